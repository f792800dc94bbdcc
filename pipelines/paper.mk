# paper.mk: the paper's training settings (docs/method.md), shared by the
# CIFAR-10, CIFAR-100-20, STL-10 and ImageNet-10 pipelines: ResNet34 with
# the 7x7 stem, every image resized to 224, batch 128, 1000 epochs. A GPU
# job: add DEVICE=cuda (README "On a GPU"); on a CPU, override EPOCHS,
# SIZE, STEM and WIDTH.
EPOCHS ?= 1000
ARCH ?= resnet34
STEM ?= imagenet
WIDTH ?= 64
BATCH ?= 128
SIZE ?= 224
include $(dir $(lastword $(MAKEFILE_LIST)))common.mk
