import sys

from styleport.cli import main

sys.exit(main())
