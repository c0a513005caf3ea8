"""``python -m placement.bench``."""

import sys

from placement.bench import cli

if __name__ == '__main__':
    sys.exit(cli.main())
