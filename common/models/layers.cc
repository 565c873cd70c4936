#include "common/models/layers.h"

#include <cmath>

#include "Eigen/Core"

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

}  // namespace

void EncoderForward(float* out, const uint8_t* tokens, const float* wte, const float* wpe, int B,
                    int T, int C) {
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < T; ++t) {
      const float* tok = wte + static_cast<int64_t>(tokens[b * T + t]) * C;
      const float* pos = wpe + static_cast<int64_t>(t) * C;
      float* o = out + (static_cast<int64_t>(b) * T + t) * C;
      for (int c = 0; c < C; ++c) o[c] = tok[c] + pos[c];
    }
  }
}

void EncoderBackward(float* dwte, float* dwpe, const float* dout, const uint8_t* tokens, int B,
                     int T, int C) {
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < T; ++t) {
      float* tok = dwte + static_cast<int64_t>(tokens[b * T + t]) * C;
      float* pos = dwpe + static_cast<int64_t>(t) * C;
      const float* d = dout + (static_cast<int64_t>(b) * T + t) * C;
      for (int c = 0; c < C; ++c) {
        tok[c] += d[c];
        pos[c] += d[c];
      }
    }
  }
}

void LayerNormForward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                      const float* bias, int N, int C) {
  const ConstRowVector w(weight, C), bvec(bias, C);
  for (int n = 0; n < N; ++n) {
    const ConstRowVector x(inp + static_cast<int64_t>(n) * C, C);
    const float m = x.mean();
    const float var = (x.array() - m).square().mean();
    const float r = 1.0f / std::sqrt(var + kLayerNormEps);
    RowVector(out + static_cast<int64_t>(n) * C, C) =
        ((x.array() - m) * r * w.array() + bvec.array()).matrix();
    mean[n] = m;
    rstd[n] = r;
  }
}

// With norm = (x - mean) * rstd and dnorm = dout * weight:
//   dx = rstd * (dnorm - mean(dnorm) - norm * mean(dnorm * norm))
void LayerNormBackward(float* dinp, float* dweight, float* dbias, const float* dout,
                       const float* inp, const float* weight, const float* mean, const float* rstd,
                       int N, int C) {
  const ConstRowVector w(weight, C);
  RowVector dw(dweight, C), db(dbias, C);
  for (int n = 0; n < N; ++n) {
    const int64_t row = static_cast<int64_t>(n) * C;
    const ConstRowVector x(inp + row, C), d(dout + row, C);
    // Lazy expressions: evaluated element by element, no temporaries.
    const auto norm = (x.array() - mean[n]) * rstd[n];
    const auto dnorm = d.array() * w.array();
    const float dnorm_mean = dnorm.mean();
    const float dnorm_norm_mean = (dnorm * norm).mean();
    db += d;
    dw += (d.array() * norm).matrix();
    RowVector(dinp + row, C) += ((dnorm - dnorm_mean - norm * dnorm_norm_mean) * rstd[n]).matrix();
  }
}

void MatmulForward(float* out, const float* inp, const float* weight, const float* bias, int N,
                   int C, int OC) {
  Map o(out, N, OC);
  o.noalias() = ConstMap(inp, N, C) * ConstMap(weight, OC, C).transpose();
  if (bias != nullptr) o.rowwise() += ConstRowVector(bias, OC);
}

void MatmulBackward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                    const float* weight, int N, int C, int OC) {
  const ConstMap d(dout, N, OC);
  Map(dinp, N, C).noalias() += d * ConstMap(weight, OC, C);
  Map(dweight, OC, C).noalias() += d.transpose() * ConstMap(inp, N, C);
  if (dbias != nullptr) RowVector(dbias, OC) += d.colwise().sum();
}

// Per batch row b and head h, with Q, K, V the (T, hs) slices of qkv:
//   att = softmax(causal(Q K^T / sqrt(hs)))   out_h = att V
void AttentionForward(float* out, float* att, const float* qkv, int B, int T, int C, int NH) {
  const int hs = C / NH;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  for (int b = 0; b < B; ++b) {
    const float* base = qkv + static_cast<int64_t>(b) * T * 3 * C;
    for (int h = 0; h < NH; ++h) {
      const ConstStrided q(base + h * hs, T, hs, Eigen::OuterStride<>(3 * C));
      const ConstStrided k(base + C + h * hs, T, hs, Eigen::OuterStride<>(3 * C));
      const ConstStrided v(base + 2 * C + h * hs, T, hs, Eigen::OuterStride<>(3 * C));
      Map a(att + (static_cast<int64_t>(b) * NH + h) * T * T, T, T);
      a.noalias() = (q * k.transpose()) * scale;
      for (int i = 0; i < T; ++i) {
        auto causal = a.row(i).head(i + 1);
        const float max = causal.maxCoeff();
        causal = (causal.array() - max).exp().matrix();
        causal /= causal.sum();
        a.row(i).tail(T - i - 1).setZero();
      }
      Strided o(out + static_cast<int64_t>(b) * T * C + h * hs, T, hs, Eigen::OuterStride<>(C));
      o.noalias() = a * v;
    }
  }
}

// datt = dout_h V^T;  dV += att^T dout_h;
// dpre[i, j] = att[i, j] * (datt[i, j] - sum_k att[i, k] datt[i, k]);
// dQ += dpre K / sqrt(hs);  dK += dpre^T Q / sqrt(hs).
void AttentionBackward(float* dqkv, float* datt, const float* dout, const float* qkv,
                       const float* att, int B, int T, int C, int NH) {
  const int hs = C / NH;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  for (int b = 0; b < B; ++b) {
    const int64_t offset = static_cast<int64_t>(b) * T * 3 * C;
    for (int h = 0; h < NH; ++h) {
      const Eigen::OuterStride<> packed(3 * C);
      const ConstStrided q(qkv + offset + h * hs, T, hs, packed);
      const ConstStrided k(qkv + offset + C + h * hs, T, hs, packed);
      const ConstStrided v(qkv + offset + 2 * C + h * hs, T, hs, packed);
      Strided dq(dqkv + offset + h * hs, T, hs, packed);
      Strided dk(dqkv + offset + C + h * hs, T, hs, packed);
      Strided dv(dqkv + offset + 2 * C + h * hs, T, hs, packed);
      const ConstStrided d(dout + static_cast<int64_t>(b) * T * C + h * hs, T, hs,
                           Eigen::OuterStride<>(C));
      const int64_t head = (static_cast<int64_t>(b) * NH + h) * T * T;
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
  }
}

void GeluForward(float* out, const float* inp, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float x = inp[i];
    out[i] = 0.5f * x * (1.0f + std::tanh(kGeluScale * (x + kGeluCubic * x * x * x)));
  }
}

void GeluBackward(float* dinp, const float* inp, const float* dout, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float x = inp[i];
    const float t = std::tanh(kGeluScale * (x + kGeluCubic * x * x * x));
    const float sech2 = 1.0f - t * t;
    const float local = 0.5f * (1.0f + t) +
                        0.5f * x * sech2 * kGeluScale * (1.0f + 3.0f * kGeluCubic * x * x);
    dinp[i] += local * dout[i];
  }
}

void ResidualForward(float* out, const float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void ResidualBackward(float* da, float* db, const float* dout, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    da[i] += dout[i];
    db[i] += dout[i];
  }
}

void CrossEntropyForward(float* probs, float* losses, const float* logits, const uint8_t* targets,
                         int N, int V) {
  for (int n = 0; n < N; ++n) {
    const ConstRowVector z(logits + static_cast<int64_t>(n) * V, V);
    RowVector p(probs + static_cast<int64_t>(n) * V, V);
    const float max = z.maxCoeff();
    p = (z.array() - max).exp().matrix();
    const float sum = p.sum();
    p /= sum;
    losses[n] = std::log(sum) - (z[targets[n]] - max);
  }
}

void CrossEntropyBackward(float* dlogits, const float* probs, const uint8_t* targets, float scale,
                          int N, int V) {
  Map d(dlogits, N, V);
  d = ConstMap(probs, N, V) * scale;
  for (int n = 0; n < N; ++n) d(n, targets[n]) -= scale;
}

}  // namespace tributary::layers
