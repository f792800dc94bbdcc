#!/usr/bin/python3
"""Views per second of torchvision's SimCLR Compose on uint8 tensors: the
reference that cdt-augment reproduces, timed the way the reference trains
(a DataLoader; num_workers 0 for one thread, else that many workers).

    augment_torchvision.py C H W SIZE JITTER THREADS IMAGES
prints two numbers: views per wall second and views per CPU second (this
process and its workers together), two views per image.
"""
import resource
import sys
import time

import torch
import torchvision.transforms as T


class Views(torch.utils.data.Dataset):
    def __init__(self, x, tf):
        self.x, self.tf = x, tf

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        img = self.x[i]
        return self.tf(img), self.tf(img)


def main():
    c, h, w, size, threads, n = (int(v) for v in sys.argv[1:4] + sys.argv[4:5] + sys.argv[6:8])
    s = float(sys.argv[5])
    torch.set_num_threads(1)
    tf = T.Compose([
        T.RandomResizedCrop(size, antialias=True),
        T.RandomHorizontalFlip(),
        T.RandomApply([T.ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s)], p=0.8),
        T.RandomGrayscale(p=0.2),
    ])
    x = torch.randint(0, 256, (n, c, h, w), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    dl = torch.utils.data.DataLoader(Views(x, tf), batch_size=128,
                                     num_workers=0 if threads == 1 else threads)
    def cpu():
        a = resource.getrusage(resource.RUSAGE_SELF)
        b = resource.getrusage(resource.RUSAGE_CHILDREN)
        return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime

    t0, c0 = time.perf_counter(), cpu()
    for _ in dl:
        pass
    del dl  # joins the workers, so that their CPU time is counted
    wall, used = time.perf_counter() - t0, cpu() - c0
    print(f"{2 * n / wall:.1f} {2 * n / used:.1f}")


main()
