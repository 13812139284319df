from opendpo.cli import main

main()
