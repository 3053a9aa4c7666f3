"""`python -m resnet_lib RECIPE ...` and `torchrun ... -m resnet_lib RECIPE ...`: the command line of
`resnet_lib.cli` (also installed as `resnet-train`)."""

from resnet_lib.cli import main

if __name__ == "__main__":
    main()
