# CIFAR-10 as the paper: train+test (60,000 images), jitter strength 0.5.
#   make -f pipelines/cifar10.mk DATA=/path/to/cifar-10-batches-bin
DATASET := cifar10
JITTER ?= 0.5
K ?= 10
include $(dir $(lastword $(MAKEFILE_LIST)))paper.mk
