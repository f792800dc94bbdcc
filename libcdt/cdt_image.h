/* cdt_image.h: placeholder until the image code lands; owned by that work. */
#ifndef CDT_IMAGE_H
#define CDT_IMAGE_H
#endif
