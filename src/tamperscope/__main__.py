from tamperscope.cli import main

main()
