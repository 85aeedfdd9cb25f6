from embedlab.worker.inside import main

main()
