# CIFAR-100-20 as the paper: train+test, the 20 super-classes, jitter 0.5.
#   make -f pipelines/cifar100.mk DATA=/path/to/cifar-100-binary
DATASET := cifar100
JITTER ?= 0.5
K ?= 20
INGEST_OPTS ?= --labels coarse
include $(dir $(lastword $(MAKEFILE_LIST)))paper.mk
