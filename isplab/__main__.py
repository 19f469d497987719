import sys

from isplab.cli import main

sys.exit(main())
