"""Numbers quoted from He et al., "Deep Residual Learning for Image Recognition" (arXiv:1512.03385),
kept in one place so chapters and tests print them beside our own, always labelled as the paper's."""

# Table 1, last row: "FLOPs" (multiply-adds) of one 224x224 forward pass, in units of 10^9.
TABLE1_GMACS = {"resnet18": 1.8, "resnet34": 3.6, "resnet50": 3.8, "resnet101": 7.6, "resnet152": 11.3}
# Section 3.3: VGG-19 is 19.6 billion FLOPs, the 34-layer plain net 3.6 billion.
VGG19_GMACS = 19.6
PLAIN34_GMACS = 3.6

# Table 6: parameters of the CIFAR-10 ResNets (option A shortcuts), in millions.
TABLE6_PARAMS_M = {20: 0.27, 32: 0.46, 44: 0.66, 56: 0.85, 110: 1.7, 1202: 19.4}
# Table 6: test error (%) on CIFAR-10; 110 layers is "best (mean±std)" of 5 runs: 6.43 (6.61±0.16).
TABLE6_ERROR = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43, 1202: 7.93}

# Table 3: ImageNet validation error (%), 10-crop testing.
TABLE3_TOP1_ERROR = {"vgg16": 28.07, "plain34": 28.54, "resnet34 (A)": 25.03, "resnet34 (B)": 24.52, "resnet34 (C)": 24.19,
                     "resnet50": 22.85, "resnet101": 21.75, "resnet152": 21.43}

# Section 4.2, the CIFAR-10 recipe.
CIFAR_RECIPE = dict(batch_size=128, lr=0.1, momentum=0.9, weight_decay=1e-4, milestones=(32_000, 48_000),
                    iterations=64_000, train_images=45_000, val_images=5_000)
# Section 3.4, the ImageNet recipe.
IMAGENET_RECIPE = dict(batch_size=256, lr=0.1, momentum=0.9, weight_decay=1e-4, iterations=600_000)
