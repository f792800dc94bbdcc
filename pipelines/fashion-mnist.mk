# Fashion-MNIST (70,000 28x28 grey images, 10 classes), sized for a 2-core
# CPU: the default settings are the ones `make demo` runs (see README).
#   make -f pipelines/fashion-mnist.mk [EPOCHS=N WIDTH=N ...]
DATASET := fashion-mnist
EPOCHS ?= 2
ARCH ?= resnet18
STEM ?= cifar
WIDTH ?= 16
BATCH ?= 128
K ?= 10
include $(dir $(lastword $(MAKEFILE_LIST)))common.mk
