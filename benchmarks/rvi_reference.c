/* Reference for benchmarks/dp.py: a plain relative value iteration in C for the
 * lost-sales inventory problem (Zipkin 2008): Poisson demand, lead time L >= 1,
 * holding cost h = 1, lost-sales penalty p, inventory position bounded by B.
 * State: (y, x_2, .., x_L) with y = on hand + arriving order; dense box indexing,
 * y fastest. Stops when the span of (T h - h) is below tol * |g|.
 * Usage: rvi_reference L p lambda B tol   -> prints "gain iterations states seconds" */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: L p lambda B tol\n"); return 2; }
    int L = atoi(argv[1]); double p = atof(argv[2]), lam = atof(argv[3]);
    int B = atoi(argv[4]); double tol = atof(argv[5]), h = 1.0;
    struct timespec t0, t1; clock_gettime(CLOCK_MONOTONIC, &t0);
    /* Poisson pmf truncated at upper-tail mass 1e-12, remainder on the last point */
    double pmf[512]; int M = 0; double cdf = 0, q = exp(-lam);
    for (M = 0; M < 511; M++) { pmf[M] = q; cdf += q; if (1.0 - cdf <= 1e-12) break; q *= lam / (M + 1); }
    pmf[M] += 1.0 - cdf;
    int R = B + 1; long N = 1; for (int i = 0; i < L; i++) N *= R;
    long *pw = malloc(sizeof(long) * (L + 1)); pw[0] = 1; for (int i = 1; i <= L; i++) pw[i] = pw[i - 1] * R;
    double *cost = malloc(sizeof(double) * R);
    for (int y = 0; y <= B; y++) { double c = 0; for (int d = 0; d <= M; d++) c += pmf[d] * (d < y ? h * (y - d) : p * (d - y)); cost[y] = c; }
    double *V = calloc(N, sizeof(double)), *W = calloc(N, sizeof(double));
    int *x = malloc(sizeof(int) * L); long nvalid = 0; double g = 0; int it;
    for (it = 1; it < 1000000; it++) {
        double lo = INFINITY, hi = -INFINITY;
        for (long s = 0; s < N; s++) {
            long r = s; int pos = 0;
            for (int i = 0; i < L; i++) { x[i] = r % R; r /= R; pos += x[i]; }
            if (pos > B) continue;
            if (it == 1) nvalid++;
            int y = x[0]; long mid = 0;
            for (int i = 2; i < L; i++) mid += x[i] * pw[i - 1];
            double best = INFINITY;
            for (int a = 0; a <= B - pos; a++) {
                double acc = 0;
                for (int d = 0; d <= M; d++) {
                    int z = y > d ? y - d : 0;
                    long idx = (L == 1) ? (z + a) : (z + x[1]) + mid + a * pw[L - 1];
                    acc += pmf[d] * V[idx];
                }
                if (acc < best) best = acc;
            }
            W[s] = cost[y] + best;
            double df = W[s] - V[s]; if (df < lo) lo = df; if (df > hi) hi = df;
        }
        g = lo;
        double ref = W[0];
        for (long s = 0; s < N; s++) W[s] -= ref;
        double *t = V; V = W; W = t;
        if (hi - lo <= tol * fabs(lo)) { g = 0.5 * (lo + hi); break; }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.10f %d %ld %.4f\n", g, it, nvalid, (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec));
    return 0;
}
