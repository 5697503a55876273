"""What is specific to ExaBGP 5: the text API (``api``), the line channel to it
(``channel``) and the configuration it runs with (``config``). A later ExaBGP is
a new module here, not an edit across the tree."""
