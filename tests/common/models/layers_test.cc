// Every layer's backward pass against central finite differences of its
// forward pass. The scalar checked is sum(out * R) for a fixed random R, so
// dout = R and each input's gradient is exercised in every direction.
#include "common/models/layers.h"

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace tributary::layers {
namespace {

std::vector<float> Random(size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

double Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

// Compares `analytic` with (f(x + eps) - f(x - eps)) / 2 eps for every
// element of x, where f re-runs the forward pass.
void ExpectGradient(std::vector<float>& x, const std::vector<float>& analytic,
                    const std::function<double()>& f, const char* what, float eps = 1e-2f) {
  ASSERT_EQ(x.size(), analytic.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const float saved = x[i];
    x[i] = saved + eps;
    const double plus = f();
    x[i] = saved - eps;
    const double minus = f();
    x[i] = saved;
    const double numeric = (plus - minus) / (2 * eps);
    ASSERT_NEAR(analytic[i], numeric, 5e-3 + 1e-2 * std::abs(numeric)) << what << "[" << i << "]";
  }
}

// The serial kernels; gpt_test checks that threads agree with them.
constexpr int kThreads = 1;

class LayersTest : public ::testing::Test {
 protected:
  std::mt19937 rng_{20261125};
};

TEST_F(LayersTest, Encoder) {
  const int B = 2, T = 3, C = 4, V = 5;
  const std::vector<uint8_t> tokens = {0, 4, 2, 2, 1, 4};
  std::vector<float> wte = Random(V * C, rng_), wpe = Random(T * C, rng_), out(B * T * C);
  const std::vector<float> r = Random(out.size(), rng_);
  std::vector<float> dwte(wte.size()), dwpe(wpe.size());
  EncoderBackward(kThreads, dwte.data(), dwpe.data(), r.data(), tokens.data(), B, T, C);
  auto f = [&] {
    EncoderForward(kThreads, out.data(), tokens.data(), wte.data(), wpe.data(), B, T, C);
    return Dot(out, r);
  };
  ExpectGradient(wte, dwte, f, "wte");
  ExpectGradient(wpe, dwpe, f, "wpe");
}

TEST_F(LayersTest, LayerNorm) {
  const int N = 5, C = 8;
  std::vector<float> inp = Random(N * C, rng_, 2.0f), w = Random(C, rng_), b = Random(C, rng_);
  std::vector<float> out(N * C), mean(N), rstd(N);
  const std::vector<float> r = Random(out.size(), rng_);
  auto f = [&] {
    LayerNormForward(kThreads, out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), N, C);
    return Dot(out, r);
  };
  f();
  std::vector<float> dinp(inp.size()), dw(C), db(C);
  LayerNormBackward(kThreads, dinp.data(), dw.data(), db.data(), r.data(), inp.data(), w.data(), mean.data(),
                    rstd.data(), N, C);
  ExpectGradient(inp, dinp, f, "inp");
  ExpectGradient(w, dw, f, "weight");
  ExpectGradient(b, db, f, "bias");
}

TEST_F(LayersTest, MatmulBackwardSkipsANullInputGradient) {
  const int N = 3, C = 4, OC = 2;
  const std::vector<float> inp = Random(N * C, rng_), w = Random(OC * C, rng_), dout = Random(N * OC, rng_);
  std::vector<float> dinp(inp.size()), dw(w.size()), db(OC), dw_alone(w.size()), db_alone(OC);
  MatmulBackward(kThreads, dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), N, C, OC);
  MatmulBackward(kThreads, nullptr, dw_alone.data(), db_alone.data(), dout.data(), inp.data(), w.data(), N, C, OC);
  EXPECT_EQ(dw_alone, dw);
  EXPECT_EQ(db_alone, db);
}

TEST_F(LayersTest, LayerNormOutputIsNormalised) {
  const int N = 3, C = 16;
  const std::vector<float> inp = Random(N * C, rng_, 3.0f), w(C, 1.0f), b(C, 0.0f);
  std::vector<float> out(N * C), mean(N), rstd(N);
  LayerNormForward(kThreads, out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), N, C);
  for (int n = 0; n < N; ++n) {
    double sum = 0, sq = 0;
    for (int c = 0; c < C; ++c) {
      sum += out[n * C + c];
      sq += out[n * C + c] * out[n * C + c];
    }
    EXPECT_NEAR(sum / C, 0.0, 1e-5);
    EXPECT_NEAR(sq / C, 1.0, 1e-3);
  }
}

TEST_F(LayersTest, Matmul) {
  const int N = 4, C = 5, OC = 3;
  std::vector<float> inp = Random(N * C, rng_), w = Random(OC * C, rng_), b = Random(OC, rng_);
  std::vector<float> out(N * OC);
  const std::vector<float> r = Random(out.size(), rng_);
  auto f = [&] {
    MatmulForward(kThreads, out.data(), inp.data(), w.data(), b.data(), N, C, OC);
    return Dot(out, r);
  };
  f();
  // Reference: out[n, o] = b[o] + sum_c inp[n, c] w[o, c].
  for (int n = 0; n < N; ++n) {
    for (int o = 0; o < OC; ++o) {
      double ref = b[o];
      for (int c = 0; c < C; ++c) ref += inp[n * C + c] * w[o * C + c];
      EXPECT_NEAR(out[n * OC + o], ref, 1e-5);
    }
  }
  std::vector<float> dinp(inp.size()), dw(w.size()), db(OC);
  MatmulBackward(kThreads, dinp.data(), dw.data(), db.data(), r.data(), inp.data(), w.data(), N, C, OC);
  ExpectGradient(inp, dinp, f, "inp");
  ExpectGradient(w, dw, f, "weight");
  ExpectGradient(b, db, f, "bias");
}

TEST_F(LayersTest, AttentionIsCausalAndItsGradientMatches) {
  const int B = 2, T = 5, C = 8, NH = 2;
  std::vector<float> qkv = Random(B * T * 3 * C, rng_), out(B * T * C), att(B * NH * T * T);
  const std::vector<float> r = Random(out.size(), rng_);
  auto f = [&] {
    AttentionForward(kThreads, out.data(), att.data(), qkv.data(), B, T, C, NH);
    return Dot(out, r);
  };
  f();
  for (int bh = 0; bh < B * NH; ++bh) {
    for (int i = 0; i < T; ++i) {
      double row = 0;
      for (int j = 0; j < T; ++j) {
        const float a = att[(bh * T + i) * T + j];
        if (j > i) {
          EXPECT_EQ(a, 0.0f) << "no attention to the future";
        }
        row += a;
      }
      EXPECT_NEAR(row, 1.0, 1e-5);
    }
  }
  // The first position sees only itself: its output is its own v.
  for (int c = 0; c < C; ++c) EXPECT_NEAR(out[c], qkv[2 * C + c], 1e-5);
  std::vector<float> dqkv(qkv.size()), datt(att.size());
  AttentionBackward(kThreads, dqkv.data(), datt.data(), r.data(), qkv.data(), att.data(), B, T, C, NH);
  ExpectGradient(qkv, dqkv, f, "qkv");
}

TEST_F(LayersTest, Gelu) {
  const int n = 40;
  std::vector<float> inp = Random(n, rng_, 2.0f), out(n);
  const std::vector<float> r = Random(n, rng_);
  auto f = [&] {
    GeluForward(kThreads, out.data(), inp.data(), n);
    return Dot(out, r);
  };
  f();
  EXPECT_NEAR(out[0], 0.5 * inp[0] * (1 + std::erf(inp[0] / std::sqrt(2.0))), 2e-3) << "close to exact GELU";
  std::vector<float> dinp(n);
  GeluBackward(kThreads, dinp.data(), inp.data(), r.data(), n);
  ExpectGradient(inp, dinp, f, "inp", 1e-3f);
}

TEST_F(LayersTest, Relu) {
  const int64_t n = 40;
  std::vector<float> inp = Random(n, rng_), r = Random(n, rng_), out(n);
  // Keep inputs away from the kink, where finite differences straddle it.
  for (float& x : inp) x += x > 0 ? 0.1f : -0.1f;
  auto f = [&] {
    ReluForward(kThreads, out.data(), inp.data(), n);
    return Dot(out, r);
  };
  f();
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(out[i], std::max(inp[i], 0.0f));
  std::vector<float> dinp(n);
  ReluBackward(kThreads, dinp.data(), inp.data(), r.data(), n);
  ExpectGradient(inp, dinp, f, "inp");
}

TEST_F(LayersTest, ResidualAccumulatesIntoBothBranches) {
  const std::vector<float> dout = {1, 2, 3};
  std::vector<float> da = {1, 1, 1}, db = {0, 0, 0}, out(3);
  ResidualBackward(kThreads, da.data(), db.data(), dout.data(), 3);
  EXPECT_EQ(da, (std::vector<float>{2, 3, 4}));
  EXPECT_EQ(db, dout);
  ResidualForward(kThreads, out.data(), da.data(), db.data(), 3);
  EXPECT_EQ(out, (std::vector<float>{3, 5, 7}));
}

TEST_F(LayersTest, CrossEntropy) {
  const int N = 4, V = 6;
  std::vector<float> logits = Random(N * V, rng_, 2.0f), probs(N * V), losses(N);
  const std::vector<uint8_t> targets = {0, 5, 2, 2};
  auto f = [&] {
    CrossEntropyForward(kThreads, probs.data(), losses.data(), logits.data(), targets.data(), N, V);
    double mean = 0;
    for (float l : losses) mean += l;
    return mean / N;
  };
  f();
  for (int n = 0; n < N; ++n) EXPECT_NEAR(losses[n], -std::log(probs[n * V + targets[n]]), 1e-5);
  std::vector<float> dlogits(logits.size());
  CrossEntropyBackward(kThreads, dlogits.data(), probs.data(), targets.data(), 1.0f / N, N, V);
  ExpectGradient(logits, dlogits, f, "logits");
}

}  // namespace
}  // namespace tributary::layers
