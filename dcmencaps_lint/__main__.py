from dcmencaps_lint.cli import main

main()
