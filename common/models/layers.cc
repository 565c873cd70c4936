#include "common/models/layers.h"

#include <algorithm>
#include <cmath>

#include "Eigen/Core"
#include "common/parallel.h"

namespace tributary::layers {
namespace {

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Map = Eigen::Map<Matrix>;
using ConstMap = Eigen::Map<const Matrix>;
using Strided = Eigen::Map<Matrix, 0, Eigen::OuterStride<>>;
using ConstStrided = Eigen::Map<const Matrix, 0, Eigen::OuterStride<>>;
using RowVector = Eigen::Map<Eigen::RowVectorXf>;
using ConstRowVector = Eigen::Map<const Eigen::RowVectorXf>;

constexpr float kLayerNormEps = 1e-5f;
constexpr float kGeluScale = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kGeluCubic = 0.044715f;

// dst[c] += sum over rows n of src[n, c], rows added in order, threads
// splitting the columns. (Eigen's colwise().sum() orders the additions by
// dst's alignment, which would make results depend on where memory is.)
void AddColumnSums(int threads, float* dst, const float* src, int64_t N, int64_t C) {
  ParallelFor(threads, C, N, [&](int64_t c0, int64_t c1) {
    RowVector sum(dst + c0, c1 - c0);
    for (int64_t n = 0; n < N; ++n) sum += ConstRowVector(src + n * C + c0, c1 - c0);
  });
}

}  // namespace

void EncoderForward(int threads, float* out, const uint8_t* tokens, const float* wte, const float* wpe, int B,
                    int T, int C) {
  ParallelFor(threads, int64_t{B} * T, C, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const float* tok = wte + static_cast<int64_t>(tokens[n]) * C;
      const float* pos = wpe + (n % T) * C;
      float* o = out + n * C;
      for (int c = 0; c < C; ++c) o[c] = tok[c] + pos[c];
    }
  });
}

// Rows with the same token (or position) add into the same gradient row, so
// the threads split the channels instead of the rows.
void EncoderBackward(int threads, float* dwte, float* dwpe, const float* dout, const uint8_t* tokens, int B,
                     int T, int C) {
  const int64_t N = int64_t{B} * T;
  ParallelFor(threads, C, 2 * N, [&](int64_t c0, int64_t c1) {
    for (int64_t n = 0; n < N; ++n) {
      float* tok = dwte + static_cast<int64_t>(tokens[n]) * C;
      float* pos = dwpe + (n % T) * C;
      const float* d = dout + n * C;
      for (int64_t c = c0; c < c1; ++c) {
        tok[c] += d[c];
        pos[c] += d[c];
      }
    }
  });
}

void LayerNormForward(int threads, float* out, float* mean, float* rstd, const float* inp, const float* weight,
                      const float* bias, int N, int C) {
  const ConstRowVector w(weight, C), bvec(bias, C);
  ParallelFor(threads, N, 8 * C, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const ConstRowVector x(inp + n * C, C);
      const float m = x.mean();
      const float var = (x.array() - m).square().mean();
      const float r = 1.0f / std::sqrt(var + kLayerNormEps);
      RowVector(out + n * C, C) = ((x.array() - m) * r * w.array() + bvec.array()).matrix();
      mean[n] = m;
      rstd[n] = r;
    }
  });
}

// With norm = (x - mean) * rstd and dnorm = dout * weight:
//   dx = rstd * (dnorm - mean(dnorm) - norm * mean(dnorm * norm))
void LayerNormBackward(int threads, float* dinp, float* dweight, float* dbias, const float* dout,
                       const float* inp, const float* weight, const float* mean, const float* rstd,
                       int N, int C) {
  const ConstRowVector w(weight, C);
  ParallelFor(threads, N, 12 * C, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const ConstRowVector x(inp + n * C, C), d(dout + n * C, C);
      // Lazy expressions: evaluated element by element, no temporaries.
      const auto norm = (x.array() - mean[n]) * rstd[n];
      const auto dnorm = d.array() * w.array();
      const float dnorm_mean = dnorm.mean();
      const float dnorm_norm_mean = (dnorm * norm).mean();
      RowVector(dinp + n * C, C) += ((dnorm - dnorm_mean - norm * dnorm_norm_mean) * rstd[n]).matrix();
    }
  });
  // The parameter gradients sum over rows: threads take channels.
  AddColumnSums(threads, dbias, dout, N, C);
  ParallelFor(threads, C, 4 * N, [&](int64_t c0, int64_t c1) {
    RowVector dw(dweight + c0, c1 - c0);
    for (int64_t n = 0; n < N; ++n) {
      const ConstRowVector x(inp + n * C + c0, c1 - c0), d(dout + n * C + c0, c1 - c0);
      dw += (d.array() * (x.array() - mean[n]) * rstd[n]).matrix();
    }
  });
}

void MatmulForward(int threads, float* out, const float* inp, const float* weight, const float* bias, int N,
                   int C, int OC) {
  const ScopedEigenThreads eigen_threads(threads);
  Map o(out, N, OC);
  o.noalias() = ConstMap(inp, N, C) * ConstMap(weight, OC, C).transpose();
  if (bias != nullptr) o.rowwise() += ConstRowVector(bias, OC);
}

void MatmulBackward(int threads, float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                    const float* weight, int N, int C, int OC) {
  const ScopedEigenThreads eigen_threads(threads);
  const ConstMap d(dout, N, OC);
  if (dinp != nullptr) Map(dinp, N, C).noalias() += d * ConstMap(weight, OC, C);
  Map(dweight, OC, C).noalias() += d.transpose() * ConstMap(inp, N, C);
  if (dbias != nullptr) AddColumnSums(threads, dbias, dout, N, OC);
}

// Per batch row b and head h, with Q, K, V the (T, hs) slices of qkv:
//   att = softmax(causal(Q K^T / sqrt(hs)))   out_h = att V
void AttentionForward(int threads, float* out, float* att, const float* qkv, int B, int T, int C, int NH) {
  const int hs = C / NH;
  const ScopedEigenThreads eigen_threads(threads);  // For the serial fallback's products.
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  // Heads are independent: threads take (batch row, head) pairs.
  ParallelFor(threads, int64_t{B} * NH, int64_t{4} * T * T * hs, [&](int64_t begin, int64_t end) {
    for (int64_t pair = begin; pair < end; ++pair) {
      const int64_t b = pair / NH, h = pair % NH;
      const float* base = qkv + b * T * 3 * C;
      const ConstStrided q(base + h * hs, T, hs, Eigen::OuterStride<>(3 * C));
      const ConstStrided k(base + C + h * hs, T, hs, Eigen::OuterStride<>(3 * C));
      const ConstStrided v(base + 2 * C + h * hs, T, hs, Eigen::OuterStride<>(3 * C));
      Map a(att + pair * T * T, T, T);
      a.noalias() = (q * k.transpose()) * scale;
      for (int i = 0; i < T; ++i) {
        auto causal = a.row(i).head(i + 1);
        const float max = causal.maxCoeff();
        causal = (causal.array() - max).exp().matrix();
        causal /= causal.sum();
        a.row(i).tail(T - i - 1).setZero();
      }
      Strided o(out + b * T * C + h * hs, T, hs, Eigen::OuterStride<>(C));
      o.noalias() = a * v;
    }
  });
}

// datt = dout_h V^T;  dV += att^T dout_h;
// dpre[i, j] = att[i, j] * (datt[i, j] - sum_k att[i, k] datt[i, k]);
// dQ += dpre K / sqrt(hs);  dK += dpre^T Q / sqrt(hs).
void AttentionBackward(int threads, float* dqkv, float* datt, const float* dout, const float* qkv,
                       const float* att, int B, int T, int C, int NH) {
  const int hs = C / NH;
  const ScopedEigenThreads eigen_threads(threads);  // For the serial fallback's products.
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  ParallelFor(threads, int64_t{B} * NH, int64_t{8} * T * T * hs, [&](int64_t begin, int64_t end) {
    for (int64_t pair = begin; pair < end; ++pair) {
      const int64_t b = pair / NH, h = pair % NH;
      const int64_t offset = b * T * 3 * C;
      const Eigen::OuterStride<> packed(3 * C);
      const ConstStrided q(qkv + offset + h * hs, T, hs, packed);
      const ConstStrided k(qkv + offset + C + h * hs, T, hs, packed);
      const ConstStrided v(qkv + offset + 2 * C + h * hs, T, hs, packed);
      Strided dq(dqkv + offset + h * hs, T, hs, packed);
      Strided dk(dqkv + offset + C + h * hs, T, hs, packed);
      Strided dv(dqkv + offset + 2 * C + h * hs, T, hs, packed);
      const ConstStrided d(dout + b * T * C + h * hs, T, hs, Eigen::OuterStride<>(C));
      const int64_t head = pair * T * T;
      const ConstMap a(att + head, T, T);
      Map da(datt + head, T, T);
      da.noalias() = d * v.transpose();
      dv.noalias() += a.transpose() * d;
      for (int i = 0; i < T; ++i) {
        const float dot = a.row(i).dot(da.row(i));
        da.row(i) = a.row(i).cwiseProduct((da.row(i).array() - dot).matrix());
      }
      dq.noalias() += (da * k) * scale;
      dk.noalias() += (da.transpose() * q) * scale;
    }
  });
}

// Elementwise kernels run on Eigen arrays (vectorised tanh and exp) over
// contiguous pieces of the range.
template <typename Body>
void ParallelPieces(int threads, int64_t n, int64_t cost, Body body) {
  ParallelFor(threads, n, cost, [&](int64_t begin, int64_t end) { body(begin, end - begin); });
}

using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

void GeluForward(int threads, float* out, const float* inp, int64_t n) {
  ParallelPieces(threads, n, 16, [&](int64_t i, int64_t len) {
    const ConstArrayMap x(inp + i, len);
    ArrayMap(out + i, len) = 0.5f * x * (1.0f + (kGeluScale * (x + kGeluCubic * x.cube())).tanh());
  });
}

void GeluBackward(int threads, float* dinp, const float* inp, const float* dout, int64_t n) {
  // Pieces of 4096 keep tanh's result in cache between its two uses.
  constexpr int64_t kBlock = 4096;
  ParallelPieces(threads, n, 24, [&](int64_t i, int64_t len) {
    Eigen::Array<float, kBlock, 1> t;
    for (int64_t j = i; j < i + len; j += kBlock) {
      const int64_t m = std::min(kBlock, i + len - j);
      const ConstArrayMap x(inp + j, m), d(dout + j, m);
      auto tm = t.head(m);
      tm = (kGeluScale * (x + kGeluCubic * x.cube())).tanh();
      ArrayMap(dinp + j, m) +=
          d * (0.5f * (1.0f + tm) +
               0.5f * x * (1.0f - tm.square()) * kGeluScale * (1.0f + 3.0f * kGeluCubic * x.square()));
    }
  });
}

void ReluForward(int threads, float* out, const float* inp, int64_t n) {
  ParallelPieces(threads, n, 1, [&](int64_t i, int64_t len) {
    ArrayMap(out + i, len) = ConstArrayMap(inp + i, len).max(0.0f);
  });
}

void ReluBackward(int threads, float* dinp, const float* inp, const float* dout, int64_t n) {
  ParallelPieces(threads, n, 2, [&](int64_t i, int64_t len) {
    ArrayMap(dinp + i, len) += (ConstArrayMap(inp + i, len) > 0.0f).select(ConstArrayMap(dout + i, len), 0.0f);
  });
}

void ResidualForward(int threads, float* out, const float* a, const float* b, int64_t n) {
  ParallelPieces(threads, n, 1, [&](int64_t i, int64_t len) {
    ArrayMap(out + i, len) = ConstArrayMap(a + i, len) + ConstArrayMap(b + i, len);
  });
}

void ResidualBackward(int threads, float* da, float* db, const float* dout, int64_t n) {
  ParallelPieces(threads, n, 2, [&](int64_t i, int64_t len) {
    const ConstArrayMap d(dout + i, len);
    ArrayMap(da + i, len) += d;
    ArrayMap(db + i, len) += d;
  });
}

void CrossEntropyForward(int threads, float* probs, float* losses, const float* logits, const uint8_t* targets,
                         int N, int V) {
  ParallelFor(threads, N, 8 * V, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const ConstRowVector z(logits + n * V, V);
      RowVector p(probs + n * V, V);
      const float max = z.maxCoeff();
      p = (z.array() - max).exp().matrix();
      const float sum = p.sum();
      p /= sum;
      losses[n] = std::log(sum) - (z[targets[n]] - max);
    }
  });
}

void CrossEntropyBackward(int threads, float* dlogits, const float* probs, const uint8_t* targets, float scale,
                          int N, int V) {
  ParallelFor(threads, N, V, [&](int64_t begin, int64_t end) {
    Map d(dlogits + begin * V, end - begin, V);
    d = ConstMap(probs + begin * V, end - begin, V) * scale;
    for (int64_t n = begin; n < end; ++n) dlogits[n * V + targets[n]] -= scale;
  });
}

}  // namespace tributary::layers
