from setuptools import find_packages, setup

DATA = {"services.schema": "schema", "services.templates": "templates"}
setup(packages=[*find_packages(include=["services*"]), *DATA], package_dir=DATA)
