"""The one thing pyproject.toml cannot say: the top-level ``templates/`` folder is
shipped inside the package as ``orchestrator.templates`` (jinja2's PackageLoader
finds it there, installed or editable), while staying the single source in the
repository."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["orchestrator*"]), "orchestrator.templates"],
    package_dir={"orchestrator.templates": "templates"},
)
