// The layers of a GPT-2 style transformer, each a forward and a backward
// function side by side, in the manner of llm.c. Every function works on
// borrowed, preallocated buffers and allocates nothing. Backward functions
// accumulate (+=) into parameter gradients and into input gradients, so the
// caller zeroes gradients once per step and residual branches add up.
// Every function takes the number of threads it may use (>= 1; its caller's
// choice, see common/parallel.h); results are deterministic for a given
// count and agree across counts to rounding.
//
// Shape legend (all row-major):
//   B batch, T sequence length, C channels, NH heads, hs = C / NH head size,
//   V vocabulary, OC output channels, N = B * T rows.
#ifndef TRIBUTARY_COMMON_MODELS_LAYERS_H_
#define TRIBUTARY_COMMON_MODELS_LAYERS_H_

#include <cstdint>

namespace tributary::layers {

// out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:]
//   out: (B, T, C)   tokens: (B, T) in [0, V)   wte: (V, C)   wpe: (maxT, C)
void EncoderForward(int threads, float* out, const uint8_t* tokens, const float* wte, const float* wpe, int B,
                    int T, int C);
// dwte, dwpe += from dout: (B, T, C)
void EncoderBackward(int threads, float* dwte, float* dwpe, const float* dout, const uint8_t* tokens, int B,
                     int T, int C);

// Normalises each row over C, then scales and shifts.
//   out, inp: (N, C)   weight, bias: (C)   mean, rstd: (N) saved for backward
void LayerNormForward(int threads, float* out, float* mean, float* rstd, const float* inp, const float* weight,
                      const float* bias, int N, int C);
void LayerNormBackward(int threads, float* dinp, float* dweight, float* dbias, const float* dout,
                       const float* inp, const float* weight, const float* mean, const float* rstd,
                       int N, int C);

// out = inp weight^T + bias
//   out: (N, OC)   inp: (N, C)   weight: (OC, C)   bias: (OC) or null
void MatmulForward(int threads, float* out, const float* inp, const float* weight, const float* bias, int N,
                   int C, int OC);
// dinp += dout weight; dweight += dout^T inp; dbias += column sums of dout
// (dinp may be null when the input needs no gradient, dbias when there is
// no bias).
void MatmulBackward(int threads, float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                    const float* weight, int N, int C, int OC);

// Causal multi-head self-attention on packed q, k, v.
//   out: (B, T, C)   qkv: (B, T, 3C), each row [q | k | v]
//   att: (B, NH, T, T) softmax weights, saved for backward (zero above the diagonal)
void AttentionForward(int threads, float* out, float* att, const float* qkv, int B, int T, int C, int NH);
//   dqkv += ...   datt: (B, NH, T, T) scratch, overwritten
void AttentionBackward(int threads, float* dqkv, float* datt, const float* dout, const float* qkv,
                       const float* att, int B, int T, int C, int NH);

// GELU, tanh approximation (as GPT-2).   out, inp: (n)
void GeluForward(int threads, float* out, const float* inp, int64_t n);
void GeluBackward(int threads, float* dinp, const float* inp, const float* dout, int64_t n);

// ReLU.   out, inp: (n)
void ReluForward(int threads, float* out, const float* inp, int64_t n);
// dinp += dout where inp > 0
void ReluBackward(int threads, float* dinp, const float* inp, const float* dout, int64_t n);

// out = a + b   (n)
void ResidualForward(int threads, float* out, const float* a, const float* b, int64_t n);
// da += dout; db += dout
void ResidualBackward(int threads, float* da, float* db, const float* dout, int64_t n);

// Softmax over V and the cross-entropy of each row against its target.
//   probs: (N, V)   losses: (N)   logits: (N, V)   targets: (N)
void CrossEntropyForward(int threads, float* probs, float* losses, const float* logits, const uint8_t* targets,
                         int N, int V);
// dlogits = (probs - onehot(target)) * scale, overwritten. scale = 1/N for
// the gradient of the mean loss.
void CrossEntropyBackward(int threads, float* dlogits, const float* probs, const uint8_t* targets, float scale,
                          int N, int V);

}  // namespace tributary::layers

#endif  // TRIBUTARY_COMMON_MODELS_LAYERS_H_
