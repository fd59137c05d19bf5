from pipwarden.cli import main

raise SystemExit(main())
