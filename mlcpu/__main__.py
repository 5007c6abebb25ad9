from mlcpu.cli import main

raise SystemExit(main())
