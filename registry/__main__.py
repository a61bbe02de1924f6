"""`python -m registry`: the same command line as the `provreg` script."""

from registry.cli.root import run

if __name__ == "__main__":
    run()
