"""The site daemon: the supervisor (runs ExaBGP and the site's loops), the agent
(ExaBGP's API process) and the return-path loop. They talk to each other only
through the store."""
