/* cdt_dataset.h: placeholder until the dataset code lands; owned by that work. */
#ifndef CDT_DATASET_H
#define CDT_DATASET_H
#endif
