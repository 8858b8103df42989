// The tiny CPU training run the trainer tests share: a 2-layer, 32-wide x070 model on a
// 24-token vocabulary and 16-token contexts of a binidx file, learning rate 5e-3 -> 1e-3, seed 1.
// Each test sets what it is about (batch, epochs, method) on top.
#pragma once
#include <string>

#include "train/train_options.h"

namespace rwkv_test {

inline rwkv::TrainOptions tiny_train_options(const std::string& dir, const std::string& data) {
  rwkv::TrainOptions o;
  o.proj_dir = dir + "/out";
  o.data_file = data;
  o.data_type = "binidx";
  o.vocab_size = 24;
  o.ctx_len = 16;
  o.n_layer = 2;
  o.n_embd = 32;
  o.head_size = 16;
  o.lr_init = 5e-3;
  o.lr_final = 1e-3;
  o.accelerator = "cpu";
  o.seed = 1;
  return o;
}

}  // namespace rwkv_test
