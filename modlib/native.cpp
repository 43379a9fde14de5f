// The training step of modlib.train (engine "torch") fused into one call, `step`: batch
// gather, forward, loss, hand-written back-propagation and Adadelta; and Deep-R's Adam and
// random-walk step, `deepr_move`, and its rewiring, `deepr_activate` (modlib.native drives
// them). The matrix products are ATen's, as in Python, and so is tanh (as 2 sigmoid(2z) - 1);
// what this file saves is the rest: about sixty small tensor operations per step, each
// paying Python's and ATen's dispatch, become a few loops over memory already in cache.
// Layouts follow modlib/model.py: parameters stacked over modules (first axis), the
// joint recurrent matrix [2N, 2N] with W_hh on the diagonal, states [B, 2N].
#include <torch/extension.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

using at::Tensor;

namespace {

// Every readout layer is per module: in [B, 2, I] -> out [B, 2, O] with w [2, O, I], b [2, O].
Tensor linear(const Tensor& in, const Tensor& w, const Tensor& b) {
  const int64_t B = in.size(0), I = in.size(2), O = w.size(1);
  Tensor out = at::empty({B, 2, O}, in.options());
  const float *x = in.data_ptr<float>(), *wp = w.data_ptr<float>(), *bp = b.data_ptr<float>();
  float* y = out.data_ptr<float>();
  for (int64_t r = 0; r < B * 2; ++r) {
    const int64_t m = r % 2;
    for (int64_t o = 0; o < O; ++o) {
      const float* wo = wp + (m * O + o) * I;
      const float* xr = x + r * I;
      float s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t i = 0; i < I; ++i) s += xr[i] * wo[i];
      y[r * O + o] = s + bp[m * O + o];
    }
  }
  return out;
}

// Back through `linear`: writes the weight and bias gradients, returns the input's.
// Rows of a module that did not decide have a zero gradient, and are skipped.
Tensor linear_backward(const Tensor& grad_out, const Tensor& in, const Tensor& w, Tensor g_w, Tensor g_b) {
  const int64_t B = in.size(0), I = in.size(2), O = w.size(1);
  Tensor grad_in = at::zeros({B, 2, I}, in.options());
  g_w.zero_();
  g_b.zero_();
  const float *g = grad_out.data_ptr<float>(), *x = in.data_ptr<float>(), *wp = w.data_ptr<float>();
  float *gi = grad_in.data_ptr<float>(), *gw = g_w.data_ptr<float>(), *gb = g_b.data_ptr<float>();
  for (int64_t r = 0; r < B * 2; ++r) {
    const int64_t m = r % 2;
    for (int64_t o = 0; o < O; ++o) {
      const float go = g[r * O + o];
      if (go == 0) continue;
      gb[m * O + o] += go;
      float* gwo = gw + (m * O + o) * I;
      const float* wo = wp + (m * O + o) * I;
      const float* xr = x + r * I;
      float* gir = gi + r * I;
#pragma omp simd
      for (int64_t i = 0; i < I; ++i) {
        gwo[i] += go * xr[i];
        gir[i] += go * wo[i];
      }
    }
  }
  return grad_in;
}

// h = tanh(h + drive) in place, as 2 sigmoid(2 (h + drive)) - 1 (doubling is exact), the
// formula of modlib.model.tanh_: ATen's float tanh is twice as slow on the CPU as its sigmoid.
void tanh_plus(Tensor h, const Tensor& drive) {
  float* p = h.data_ptr<float>();
  const float* d = drive.data_ptr<float>();
  const int64_t n = h.numel();
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) p[i] = 2 * (p[i] + d[i]);
  h.sigmoid_();
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) p[i] = p[i] * 2 - 1;
}

// The joint recurrent matrix: W_hh blocks on the diagonal, sign * theta (where theta > 0)
// off it; c[d] (from module d to 1 - d) lands in the rows of module 1 - d.
Tensor recurrent_matrix(const Tensor& w_hh, const Tensor& theta, const Tensor& sign) {
  const int64_t N = w_hh.size(1), N2 = 2 * N;
  Tensor W = at::empty({N2, N2}, w_hh.options());
  const float *whh = w_hh.data_ptr<float>(), *th = theta.data_ptr<float>(), *sg = sign.data_ptr<float>();
  float* w = W.data_ptr<float>();
  for (int64_t m = 0; m < 2; ++m) {
    const int64_t own = m * N, other = (1 - m) * N;  // module m's rows; the other's columns
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < N; ++j) {
        const int64_t e = (1 - m) * N * N + i * N + j;  // interconnection from 1 - m to m
        w[(own + i) * N2 + own + j] = whh[m * N * N + i * N + j];
        w[(own + i) * N2 + other + j] = th[e] > 0 ? sg[e] * th[e] : 0.0f;
      }
  }
  return W;
}

// Competitive max (or absolute max): the decider of each pair, its readout [B, C], and
// the loss gradient at the readouts [B, 2, C] (zero for the module that did not decide).
// Returns the mean cross-entropy.
double decide_and_loss(const Tensor& readouts, const Tensor& target, bool absmax, Tensor decided, Tensor grad) {
  const int64_t B = readouts.size(0), C = readouts.size(2);
  const float* r = readouts.data_ptr<float>();
  const int64_t* t = target.data_ptr<int64_t>();
  float *d = decided.data_ptr<float>(), *g = grad.data_ptr<float>();
  grad.zero_();
  double loss = 0;
  for (int64_t b = 0; b < B; ++b) {
    int64_t mu = 0;
    float best = -std::numeric_limits<float>::infinity();
    for (int64_t m = 0; m < 2; ++m)
      for (int64_t c = 0; c < C; ++c) {
        const float v = r[(b * 2 + m) * C + c], score = absmax ? std::fabs(v) : v;
        if (score > best) best = score, mu = m;  // ties go to module 0, as argmax does
      }
    const float* x = r + (b * 2 + mu) * C;
    std::memcpy(d + b * C, x, C * sizeof(float));
    float top = x[0], sum = 0;
    for (int64_t c = 1; c < C; ++c) top = std::max(top, x[c]);
    for (int64_t c = 0; c < C; ++c) sum += std::exp(x[c] - top);
    const float log_z = top + std::log(sum);
    loss -= x[t[b]] - log_z;
    for (int64_t c = 0; c < C; ++c)  // (softmax - one-hot) / B
      g[(b * 2 + mu) * C + c] = (std::exp(x[c] - log_z) - (c == t[b] ? 1.0f : 0.0f)) / B;
  }
  return loss / B;
}

// Adadelta (Zeiler 2012) on the flat parameter buffer: modlib.train.FlatAdadelta.step.
void adadelta(Tensor flat, const Tensor& grad, Tensor square_avg, Tensor acc_delta, double lr, double rho,
              double eps) {
  float *p = flat.data_ptr<float>(), *s = square_avg.data_ptr<float>(), *a = acc_delta.data_ptr<float>();
  const float* g = grad.data_ptr<float>();
  const float r = rho, e = eps, l = lr;
  const int64_t n = flat.numel();
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float si = s[i] * r + (1 - r) * (g[i] * g[i]);
    const float delta = std::sqrt(a[i] + e) / std::sqrt(si + e) * g[i];
    s[i] = si;
    a[i] = a[i] * r + (1 - r) * (delta * delta);
    p[i] -= l * delta;
  }
}

}  // namespace

// One step on the pairs (i0, i1) of rows of `images` [n, D]. `params` and `grads` are, in
// order: w_ih [2, D, N], b_ih, w_hh [2, N, N], b_hh, then (weight, bias) of each readout
// layer, then theta [2, N, N]; grads are written in place (replacing what was there).
// `adadelta_state` is FlatAdadelta's (flat, grad, square_avg, acc_delta): it steps only
// when the loss is finite. Returns (loss, decided readout [B, C]).
std::tuple<Tensor, Tensor> step(const Tensor& images, const Tensor& i0, const Tensor& i1, const Tensor& target,
                                std::vector<Tensor> params, std::vector<Tensor> grads, const Tensor& sign,
                                std::vector<Tensor> adadelta_state, double lr, double rho, double eps,
                                int64_t n_steps, bool absmax) {
  TORCH_CHECK(images.is_contiguous() && images.scalar_type() == at::kFloat, "images must be contiguous float32");
  const int64_t B = i0.size(0), D = images.size(1), N = params[2].size(1), N2 = 2 * N;
  const int64_t layers = (static_cast<int64_t>(params.size()) - 5) / 2;
  const auto opt = images.options();
  const Tensor &w_ih = params[0], &b_ih = params[1], &w_hh = params[2], &b_hh = params[3];
  const Tensor& theta = params.back();

  // Batch, module-major [2, B, D], and the input term plus both biases [B, 2N].
  Tensor x = at::empty({2, B, D}, opt);
  const float* rows = images.data_ptr<float>();
  for (int64_t m = 0; m < 2; ++m) {
    const int64_t* index = (m ? i1 : i0).data_ptr<int64_t>();
    for (int64_t b = 0; b < B; ++b) {
      if (b + 2 < B) {  // fetch a later row while this one is copied: the rows are scattered in memory
        const char* later = reinterpret_cast<const char*>(rows + index[b + 2] * D);
        for (int64_t byte = 0; byte < D * 4; byte += 64) __builtin_prefetch(later + byte);
      }
      std::memcpy(x.data_ptr<float>() + (m * B + b) * D, rows + index[b] * D, D * sizeof(float));
    }
  }
  Tensor drive = at::baddbmm((b_ih + b_hh).unsqueeze(1), x, w_ih).transpose(0, 1).reshape({B, N2});

  // Forward: every state [T, B, 2N] of h_t = tanh(drive + h_{t-1} W^T), h_0 = 0.
  Tensor W = recurrent_matrix(w_hh, theta, sign);
  Tensor hs = at::empty({n_steps, B, N2}, opt);
  for (int64_t t = 0; t < n_steps; ++t) {
    Tensor h = hs[t];
    if (t == 0) h.zero_();
    else at::mm_out(h, hs[t - 1], W.t());
    tanh_plus(h, drive);
  }
  std::vector<Tensor> states{hs[n_steps - 1].view({B, 2, N})};
  for (int64_t l = 0; l < layers; ++l) states.push_back(linear(states.back(), params[4 + 2 * l], params[5 + 2 * l]));

  const int64_t C = states.back().size(2);
  Tensor decided = at::empty({B, C}, opt), grad = at::empty({B, 2, C}, opt);
  const double loss = decide_and_loss(states.back(), target, absmax, decided, grad);
  Tensor loss_tensor = at::scalar_tensor(loss, opt);
  if (!std::isfinite(loss)) return {loss_tensor, decided};  // the caller raises; nothing has changed

  // Backward through the readout layers, then through time.
  for (int64_t l = layers - 1; l >= 0; --l)
    grad = linear_backward(grad, states[l], params[4 + 2 * l], grads[4 + 2 * l], grads[5 + 2 * l]);
  Tensor dz = at::empty_like(hs);  // gradient at each step's pre-activation
  Tensor dh = grad.view({B, N2});
  for (int64_t t = n_steps - 1; t >= 0; --t) {
    const float *g = dh.data_ptr<float>(), *h = hs[t].data_ptr<float>();
    float* z = dz[t].data_ptr<float>();
#pragma omp simd
    for (int64_t i = 0; i < B * N2; ++i) z[i] = g[i] - g[i] * h[i] * h[i];  // dh (1 - h^2)
    if (t > 0) dh = at::mm(dz[t], W);
  }
  Tensor d_w = at::mm(dz.narrow(0, 1, n_steps - 1).reshape({-1, N2}).t(),
                      hs.narrow(0, 0, n_steps - 1).reshape({-1, N2}));
  Tensor d_drive = dz.sum(0).view({B, 2, N}).transpose(0, 1);  // [2, B, N], as the projection
  at::bmm_out(grads[0], x.transpose(1, 2), d_drive);
  at::sum_out(grads[1], d_drive, {1});
  grads[3].copy_(grads[1]);

  // W's blocks back to W_hh and to theta (through sign, where theta > 0).
  const float *dw = d_w.data_ptr<float>(), *th = theta.data_ptr<float>(), *sg = sign.data_ptr<float>();
  float *g_whh = grads[2].data_ptr<float>(), *g_theta = grads.back().data_ptr<float>();
  for (int64_t m = 0; m < 2; ++m) {
    const int64_t own = m * N, other = (1 - m) * N;
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < N; ++j) {
        const int64_t e = (1 - m) * N * N + i * N + j;
        g_whh[m * N * N + i * N + j] = dw[(own + i) * N2 + own + j];
        g_theta[e] = th[e] > 0 ? dw[(own + i) * N2 + other + j] * sg[e] : 0.0f;
      }
  }
  adadelta(adadelta_state[0], adadelta_state[1], adadelta_state[2], adadelta_state[3], lr, rho, eps);
  return {loss_tensor, decided};
}

// Deep-R's Adam and random-walk step of the k active thetas per direction, as
// modlib.deepr.DeepR.move: `theta` [2, N^2], `index` [2, k] their positions, `grad` [2, k]
// their gradients, `steps` each one's Adam step count, `corrections` Adam's 1 - beta^t by t
// [2, length], `noise` [2, k] standard normal (absent without a walk). Thetas that reach
// <= 0 are set to 0, and their Adam state too; returns them as a mask [2, k].
Tensor deepr_move(Tensor theta, const Tensor& index, const Tensor& grad, Tensor m, Tensor v, Tensor steps,
                  const Tensor& corrections, const std::optional<Tensor>& noise, double lr, double beta1,
                  double beta2, double eps, double noise_std) {
  const int64_t k = index.size(1), n = theta.size(1), length = corrections.size(1);
  Tensor died = at::empty({2, k}, index.options().dtype(at::kBool));
  float *th = theta.data_ptr<float>(), *mp = m.data_ptr<float>(), *vp = v.data_ptr<float>();
  const float *g = grad.data_ptr<float>(), *c = corrections.data_ptr<float>();
  const float* z = noise ? noise->data_ptr<float>() : nullptr;
  const int64_t* pos = index.data_ptr<int64_t>();
  int64_t* t = steps.data_ptr<int64_t>();
  bool* dead = died.data_ptr<bool>();
  const float w1 = 1 - beta1, b2 = beta2, w2 = 1 - beta2, l = lr, e = eps, walk = noise_std;
  for (int64_t d = 0; d < 2; ++d)
    for (int64_t j = 0; j < k; ++j) {
      const int64_t i = d * k + j, s = ++t[i];
      mp[i] += w1 * (g[i] - mp[i]);  // lerp towards the gradient
      vp[i] = vp[i] * b2 + w2 * g[i] * g[i];
      float update = l * (mp[i] / c[s]) / (std::sqrt(vp[i] / c[length + s]) + e);
      if (z) update -= walk * z[i];
      float& theta_i = th[d * n + pos[i]];
      const float value = theta_i - update;
      dead[i] = value <= 0;
      theta_i = dead[i] ? 0.0f : value;
      if (dead[i]) mp[i] = vp[i] = 0, t[i] = 0;  // the connection that takes the slot starts afresh
    }
  return died;
}

// Deep-R's rewiring, as modlib.deepr.DeepR.activate: in each direction, the dormant entries
// (theta <= 0) with the largest `key` [2, N^2] take the slots of the connections that died
// (`died` [2, k]), in slot order, and start at `reactivation`. Returns how many were rewired.
// Equal keys (float32 random numbers tie now and then) go to the lower entry first, where
// PyTorch's topk leaves their order to its sorting algorithm.
int64_t deepr_activate(Tensor theta, Tensor index, const Tensor& died, const Tensor& key, double reactivation) {
  const int64_t k = index.size(1), n = theta.size(1);
  float* th = theta.data_ptr<float>();
  int64_t* pos = index.data_ptr<int64_t>();
  const bool* dead = died.data_ptr<bool>();
  int64_t rewired = 0;
  std::vector<int64_t> slots, dormant;
  for (int64_t d = 0; d < 2; ++d) {
    slots.clear();
    for (int64_t j = 0; j < k; ++j)
      if (dead[d * k + j]) slots.push_back(j);
    if (slots.empty()) continue;
    float* row = th + d * n;
    dormant.clear();
    for (int64_t e = 0; e < n; ++e)
      if (row[e] <= 0) dormant.push_back(e);
    const float* keys = key.data_ptr<float>() + d * n;
    const auto first = dormant.begin() + slots.size();
    std::partial_sort(dormant.begin(), first, dormant.end(),
                      [keys](int64_t a, int64_t b) { return keys[a] > keys[b] || (keys[a] == keys[b] && a < b); });
    for (size_t s = 0; s < slots.size(); ++s) {
      pos[d * k + slots[s]] = dormant[s];
      row[dormant[s]] = static_cast<float>(reactivation);
    }
    rewired += slots.size();
  }
  return rewired;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("step", &step, "one fused training step (modlib.native)");
  m.def("deepr_move", &deepr_move, "Deep-R's Adam and random-walk step (modlib.native)");
  m.def("deepr_activate", &deepr_activate, "Deep-R's rewiring (modlib.native)");
}
