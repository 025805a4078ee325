// Keras weight files (see keras_weights_file.h and Keras' saving_lib.py / legacy_h5_format.py).
#include "fmnist/io/keras_weights_file.h"

#include <algorithm>

#include "atomic_file.h"
#include "fmnist/core/error.h"
#include "hdf5_util.h"

namespace fmnist {
namespace {

bool all_digits(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

NamedArray read_float_array(hid_t file, const std::string& where, const std::string& name,
                            const std::string& path) {
  NamedArray array;
  array.path = name;
  array.values = h5::read_dataset<float>(file, where, array.shape, path);
  return array;
}

// Keras 3: /layers/<name>/vars/<i>. HDF5 lists "10" before "2", so sort the indices as numbers.
KerasWeights read_keras3(hid_t file, const std::string& path) {
  KerasWeights weights;
  weights.format = KerasWeightsFormat::kKeras3;
  h5::Handle layers = h5::open_group(file, "/layers", path);
  for (const h5::Child& layer : h5::list_group(layers.get(), "/layers", path, h5::LinkOrder::kName)) {
    if (!layer.is_group) continue;
    KerasLayerWeights entry;
    entry.name = layer.name;
    const std::string vars_path = "/layers/" + layer.name + "/vars";
    if (h5::has_link(file, vars_path, path)) {
      h5::Handle vars = h5::open_group(file, vars_path, path);
      std::vector<std::string> names;
      for (const h5::Child& var : h5::list_group(vars.get(), vars_path, path, h5::LinkOrder::kName)) {
        if (var.is_group || !all_digits(var.name))
          throw Error(path + ": expected " + vars_path + " to hold datasets named 0, 1, ..., found '" +
                      var.name + "'");
        names.push_back(var.name);
      }
      std::sort(names.begin(), names.end(),
                [](const std::string& a, const std::string& b) { return std::stoul(a) < std::stoul(b); });
      for (std::size_t i = 0; i < names.size(); ++i) {
        if (names[i] != std::to_string(i))
          throw Error(path + ": expected " + vars_path + "/" + std::to_string(i) + ", found none");
        entry.variables.push_back(read_float_array(file, vars_path + "/" + names[i], names[i], path));
      }
    }
    weights.layers.push_back(std::move(entry));
  }
  return weights;
}

// A list attribute that tf.keras splits into name0, name1, ... when it exceeds the 64 KiB
// object-header limit (hdf5_format.py, load_attributes_from_hdf5_group).
std::vector<std::string> read_chunked_names(hid_t loc, const std::string& owner, const std::string& name,
                                            const std::string& path) {
  if (h5::has_attribute(loc, name, path)) return h5::read_string_array_attribute(loc, owner, name, path);
  std::vector<std::string> all;
  for (int chunk = 0; h5::has_attribute(loc, name + std::to_string(chunk), path); ++chunk) {
    const std::vector<std::string> part =
        h5::read_string_array_attribute(loc, owner, name + std::to_string(chunk), path);
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

// Legacy tf.keras: attribute layer_names on the root (save_weights) or on /model_weights
// (model.save("x.h5")); each layer group has attribute weight_names; the dataset of a weight
// is at <group>/<weight name>, '/' in the name making subgroups.
KerasWeights read_legacy(hid_t file, const std::string& path) {
  KerasWeights weights;
  weights.format = KerasWeightsFormat::kLegacy;
  std::string root = "/";
  if (!h5::has_attribute(file, "layer_names", path) && !h5::has_attribute(file, "layer_names0", path))
    root = "/model_weights";
  h5::Handle top = h5::open_group(file, root, path);
  for (const std::string& layer : read_chunked_names(top.get(), root, "layer_names", path)) {
    const std::string group_path = (root == "/" ? "/" : root + "/") + layer;
    h5::Handle group = h5::open_group(file, group_path, path);
    KerasLayerWeights entry;
    entry.name = layer;
    for (const std::string& weight : read_chunked_names(group.get(), group_path, "weight_names", path))
      entry.variables.push_back(read_float_array(file, group_path + "/" + weight, weight, path));
    if (!entry.variables.empty()) weights.layers.push_back(std::move(entry));
  }
  return weights;
}

enum class Layout { kKeras3, kLegacy, kOther };

Layout layout_of(hid_t file, const std::string& path) {
  if (h5::has_link(file, "layers", path)) return Layout::kKeras3;
  if (h5::has_attribute(file, "layer_names", path) || h5::has_attribute(file, "layer_names0", path) ||
      h5::has_link(file, "model_weights", path))
    return Layout::kLegacy;
  return Layout::kOther;
}

}  // namespace

void write_keras_weights(const std::string& path, const std::vector<KerasLayerWeights>& layers) {
  h5::silence_errors();
  AtomicFile out(path);
  {
    // Keras reads what h5py writes: the compatible format, contiguous float32 datasets.
    h5::Handle file = h5::create_file(out.temp_path(), h5::FileFormat::kCompatible, 0, path);
    h5::create_group(file.get(), "vars", path);  // the Sequential's own (no) variables; Keras 3.0-3.5 need it
    {
      h5::Handle group = h5::create_group(file.get(), "layers", path);
      h5::DatasetOptions plain;
      plain.checksum = false;
      for (const KerasLayerWeights& layer : layers) {
        h5::Handle vars = h5::create_groups(group.get(), layer.name + "/vars", path);
        for (std::size_t i = 0; i < layer.variables.size(); ++i) {
          const NamedArray& v = layer.variables[i];
          h5::write_dataset<float>(vars.get(), std::to_string(i), v.shape, v.values.data(), plain, path);
        }
      }
    }
    h5::flush_and_close(file, path);
  }
  out.commit();
}

void write_keras_model_json(const std::string& path, const std::string& json) {
  write_text_file_atomically(path, json);
}

namespace {

KerasWeights parse_keras_weights(const std::string& path) {
  h5::Handle file = h5::open_file(path);
  switch (layout_of(file.get(), path)) {
    case Layout::kKeras3:
      return read_keras3(file.get(), path);
    case Layout::kLegacy:
      return read_legacy(file.get(), path);
    case Layout::kOther:
      break;
  }
  throw Error(path + ": expected Keras weights (a /layers group, or a layer_names attribute), found neither");
}

}  // namespace

// Keras files come from elsewhere, with no checksum of ours: they are parsed in a child
// process first, so a file that crashes libhdf5 ends with an Error instead (hdf5_util.h).
KerasWeights read_keras_weights(const std::string& path) {
  h5::silence_errors();
  KerasWeights weights;
  h5::parse_isolated(path, [&] { weights = parse_keras_weights(path); });
  return weights;
}

bool is_keras_weights_file(const std::string& path) {
  h5::silence_errors();
  bool keras = false;
  h5::parse_isolated(path, [&] {
    h5::Handle file = h5::open_file(path);
    keras = layout_of(file.get(), path) != Layout::kOther;
  });
  return keras;
}

}  // namespace fmnist
