# ImageNet-10 as the paper: 13,000 JPEGs in 10 class folders, Gaussian blur.
#   make -f pipelines/imagenet10.mk DATA=/path/to/imagenet10
DATASET := imagenet10
BLUR ?= 1
K ?= 10
include $(dir $(lastword $(MAKEFILE_LIST)))paper.mk
