import sys

from altmarl.cli import main

sys.exit(main())
