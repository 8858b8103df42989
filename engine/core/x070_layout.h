// The x070 block as both backends bind it (cpu/cpu_backend.cpp, cuda/cuda_model.cu): the state
// dict's names of a block's vectors and low-rank matrices, and its six linears with the module
// name target_modules matches, their shapes and their dropout stream. One description, so the
// two backends cannot disagree about where an adapter goes or which stream a mask comes from.
#pragma once
#include <string>

namespace rwkv::x070 {

// The block linears in the order their dropout streams are numbered (slot = layer * 8 + role):
// the CPU backend's salts and the GPU's AdaptedLinear::slot are both this number.
enum class LinearRole { AttReceptance, AttKey, AttValue, AttOutput, FfnKey, FfnValue };
inline constexpr int kSlotsPerLayer = 8;

struct LinearSpec {
  LinearRole role;
  const char* part;    // the state-dict name within the block, without ".weight"
  const char* module;  // what target_modules names it by
  bool in_is_ffn;      // in features: dim_ffn (else n_embd)
  bool out_is_ffn;     // out features: dim_ffn (else n_embd)
};
inline constexpr LinearSpec kBlockLinears[] = {
    {LinearRole::AttReceptance, "att.receptance", "receptance", false, false},
    {LinearRole::AttKey, "att.key", "key", false, false},
    {LinearRole::AttValue, "att.value", "value", false, false},
    {LinearRole::AttOutput, "att.output", "output", false, false},
    {LinearRole::FfnKey, "ffn.key", "key", false, true},
    {LinearRole::FfnValue, "ffn.value", "value", true, false},
};

inline std::string block_prefix(int layer) { return "blocks." + std::to_string(layer) + "."; }
inline int dropout_slot(int layer, LinearRole role) { return layer * kSlotsPerLayer + int(role); }

// A backend's linear member for a role; the backends' layer structs name them alike.
template <class Layer>
auto& linear_of(Layer& L, LinearRole role) {
  switch (role) {
    case LinearRole::AttReceptance: return L.rec;
    case LinearRole::AttKey: return L.key;
    case LinearRole::AttValue: return L.val;
    case LinearRole::AttOutput: return L.out;
    case LinearRole::FfnKey: return L.ffn_key;
    case LinearRole::FfnValue: break;
  }
  return L.ffn_val;
}

// Binds a block's non-linear tensors through find(name) (a null for a name the checkpoint lacks).
// Members are named after the state dict's last part; ln0 exists in layer 0 only, the value
// residual's v0/v1/v2 in layers > 0 only.
template <class Layer, class Find>
void bind_block_tensors(Layer& L, int layer, Find&& find) {
  const std::string p = block_prefix(layer), a = p + "att.";
  if (layer == 0) { L.ln0_w = find(p + "ln0.weight"); L.ln0_b = find(p + "ln0.bias"); }
  L.ln1_w = find(p + "ln1.weight"); L.ln1_b = find(p + "ln1.bias");
  L.ln2_w = find(p + "ln2.weight"); L.ln2_b = find(p + "ln2.bias");
  L.x_r = find(a + "x_r"); L.x_w = find(a + "x_w"); L.x_k = find(a + "x_k");
  L.x_v = find(a + "x_v"); L.x_a = find(a + "x_a"); L.x_g = find(a + "x_g");
  L.w0 = find(a + "w0"); L.w1 = find(a + "w1"); L.w2 = find(a + "w2");
  L.a0 = find(a + "a0"); L.a1 = find(a + "a1"); L.a2 = find(a + "a2");
  if (layer > 0) { L.v0 = find(a + "v0"); L.v1 = find(a + "v1"); L.v2 = find(a + "v2"); }
  L.g1 = find(a + "g1"); L.g2 = find(a + "g2");
  L.k_k = find(a + "k_k"); L.k_a = find(a + "k_a"); L.r_k = find(a + "r_k");
  L.lnx_w = find(a + "ln_x.weight"); L.lnx_b = find(a + "ln_x.bias");
  L.ffn_x_k = find(p + "ffn.x_k");
}

}  // namespace rwkv::x070
