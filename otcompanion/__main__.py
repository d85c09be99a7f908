import sys

from otcompanion.cli import main

sys.exit(main())
