/* adam.c: the optimiser, gradient clipping and the learning-rate schedule,
 * each written to give the numbers PyTorch 1.13's torch.optim.Adam,
 * clip_grad_norm_ and CosineAnnealingLR give. Float only: nothing
 * differentiates through them, so they have no double twin. */
#include "cdt_nn.h"

#include <math.h>

/* torch.optim.Adam's single-tensor step: g' = g + wd p;
 * m = b1 m + (1-b1) g'; v = b2 v + (1-b2) g'^2;
 * p -= lr / (1-b1^t) * m / (sqrt(v) / sqrt(1-b2^t) + eps). */
void cdt_adam_step(float *param,      // (n)
                   float *m,          // (n)
                   float *v,          // (n)
                   const float *grad, // (n)
                   size_t n, long t, const cdt_adam_params *p)
{
    float b1 = (float)p->beta1, b2 = (float)p->beta2, wd = (float)p->weight_decay;
    float step = (float)(p->lr / (1 - pow(p->beta1, (double)t)));
    float bc2_sqrt = (float)sqrt(1 - pow(p->beta2, (double)t)), eps = (float)p->eps;
    // on all threads from 32K parameters: a narrow ResNet18's 0.7M took
    // 2.8-4.2 ms a step on one core while the other waited, 1.6-2.2 on two
    #pragma omp parallel for simd if (n > ((size_t)1 << 15))
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] + wd * param[i];
        m[i] = m[i] * b1 + (1 - b1) * g;
        v[i] = v[i] * b2 + (1 - b2) * g * g;
        param[i] -= step * m[i] / (sqrtf(v[i]) / bc2_sqrt + eps);
    }
}

/* The sum runs in one fixed order (no OpenMP reduction, whose order
 * follows the thread count) so that a run repeats bit for bit on any
 * machine; one pass in double costs a few ms even for ResNet50. */
double cdt_grad_norm(const float *grad, // (n)
                     size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)grad[i] * grad[i];
    return sqrt(s);
}

double cdt_clip_grad_norm(float *grad, // (n)
                          size_t n, double max_norm)
{
    double norm = cdt_grad_norm(grad, n), coef = max_norm / (norm + 1e-6);
    if (coef < 1)
        for (size_t i = 0; i < n; i++) grad[i] = (float)(grad[i] * coef);
    return norm;
}

/* The closed form of CosineAnnealingLR (eta_min 0); PyTorch's recursive
 * update gives the same values up to rounding. */
double cdt_cosine_lr(double base_lr, long t, long total)
{
    const double pi = 3.14159265358979323846;
    if (total <= 0) return base_lr;
    return base_lr * (1 + cos(pi * (double)t / (double)total)) / 2;
}
