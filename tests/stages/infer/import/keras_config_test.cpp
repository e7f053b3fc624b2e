// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras model_config JSON (Functional/Sequential, Keras 2/3 spellings) -> ModelSpec
// graph; malformed graphs fail naming the layer.
#include "stages/error.hpp"
#include "stages/infer/import/keras_config.hpp"

#include <gtest/gtest.h>

namespace atrous::infer
{
namespace
{

using nlohmann::json;

std::vector<std::string> names(const ModelSpec& spec)
{
    std::vector<std::string> out;
    for (const auto& l : spec.layers)
        out.push_back(l.name);
    return out;
}

std::string error_of(const json& config)
{
    try
    {
        spec_from_keras_config(config, "m.h5");
    }
    catch (const ModelError& e)
    {
        return e.what();
    }
    return "";
}

json keras2_layer(const std::string& cls, const std::string& name,
                  const std::vector<std::string>& inputs)
{
    json node = json::array();
    for (const auto& i : inputs)
        node.push_back(json::array({i, 0, 0, json::object()}));
    return {{"class_name", cls},
            {"name", name},
            {"config", {{"name", name}}},
            {"inbound_nodes", inputs.empty() ? json::array() : json::array({node})}};
}

json functional(const json& layers, const std::string& in, const std::string& out)
{
    return {{"class_name", "Functional"},
            {"config",
             {{"name", "m"},
              {"layers", layers},
              {"input_layers", json::array({json::array({in, 0, 0})})},
              {"output_layers", json::array({json::array({out, 0, 0})})}}}};
}

TEST(KerasConfig, SequentialWithoutInputLayerGetsOne)
{
    const json config = json::parse(R"({"class_name": "Sequential", "config": {"name": "seq",
        "layers": [
          {"class_name": "Conv2D", "config": {"name": "conv2d", "filters": 4,
                                              "batch_input_shape": [null, 8, 8, 3]}},
          {"class_name": "Flatten", "config": {"name": "flatten"}},
          {"class_name": "Dense", "config": {"name": "dense", "units": 2}}]}})");
    const ModelSpec spec = spec_from_keras_config(config, "m.h5");
    EXPECT_EQ(spec.name, "seq");
    EXPECT_EQ(names(spec),
              (std::vector<std::string>{"conv2d_input", "conv2d", "flatten", "dense"}));
    EXPECT_EQ(spec.layers[0].class_name, "InputLayer");
    EXPECT_EQ(spec.layers[0].config["batch_input_shape"], json::parse("[null, 8, 8, 3]"));
    EXPECT_EQ(spec.layers[2].inputs, std::vector<std::string>{"conv2d"});
    EXPECT_EQ(spec.inputs, std::vector<std::string>{"conv2d_input"});
    EXPECT_EQ(spec.outputs, std::vector<std::string>{"dense"});
}

TEST(KerasConfig, Keras3SequentialAndOldListStyle)
{
    const json k3 = json::parse(R"({"class_name": "Sequential", "config": {"name": "s",
        "layers": [
          {"module": "keras.layers", "class_name": "InputLayer",
           "config": {"batch_shape": [null, 28, 28, 1], "dtype": "float32", "name": "input_layer"}},
          {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense"}}]}})");
    const ModelSpec spec = spec_from_keras_config(k3, "m.h5");
    EXPECT_EQ(names(spec), (std::vector<std::string>{"input_layer", "dense"}));
    EXPECT_EQ(spec.layers[0].config["batch_input_shape"], json::parse("[null, 28, 28, 1]"));
    // Keras <= 2.2 wrote the list of layers as the config itself.
    const json old = json::parse(R"({"class_name": "Sequential", "config": [
          {"class_name": "Dense", "config": {"name": "dense_1", "batch_input_shape": [null, 4]}}]})");
    EXPECT_EQ(names(spec_from_keras_config(old, "m.h5")),
              (std::vector<std::string>{"dense_1_input", "dense_1"}));
    const json no_shape = json::parse(R"({"class_name": "Sequential", "config": {"layers": [
          {"class_name": "Dense", "config": {"name": "dense"}}]}})");
    EXPECT_EQ(error_of(no_shape),
              "layer dense: first layer of a Sequential model has no batch_input_shape");
}

TEST(KerasConfig, Keras3FunctionalInboundNodes)
{
    const json config = json::parse(R"({"class_name": "Functional", "config": {"name": "f",
      "layers": [
        {"class_name": "InputLayer", "name": "in", "config": {"batch_shape": [null, null, null, 1]},
         "inbound_nodes": []},
        {"class_name": "Conv2D", "name": "a", "config": {},
         "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__",
            "config": {"shape": [null, null, null, 1], "keras_history": ["in", 0, 0]}}],
            "kwargs": {}}]},
        {"class_name": "Concatenate", "name": "cat", "config": {"axis": -1},
         "inbound_nodes": [{"args": [[
            {"class_name": "__keras_tensor__", "config": {"keras_history": ["a", 0, 0]}},
            {"class_name": "__keras_tensor__", "config": {"keras_history": ["in", 0, 0]}}]],
            "kwargs": {}}]}],
      "input_layers": ["in", 0, 0], "output_layers": ["cat", 0, 0]}})");
    const ModelSpec spec = spec_from_keras_config(config, "m.h5");
    EXPECT_EQ(spec.layers[2].inputs, (std::vector<std::string>{"a", "in"}));
    EXPECT_EQ(spec.layers[1].config["name"], "a");
    EXPECT_EQ(spec.inputs, std::vector<std::string>{"in"});
    EXPECT_EQ(spec.outputs, std::vector<std::string>{"cat"});
}

TEST(KerasConfig, SortsLayersTopologically)
{
    // Config lists "b" (reading "a") before "a".
    const json config = functional(
        json::array({keras2_layer("InputLayer", "in", {}), keras2_layer("ReLU", "b", {"a"}),
                     keras2_layer("ReLU", "a", {"in"})}),
        "in", "b");
    EXPECT_EQ(names(spec_from_keras_config(config, "m.h5")),
              (std::vector<std::string>{"in", "a", "b"}));
}

TEST(KerasConfig, RejectsWhatCannotBeImported)
{
    const json shared_node =
        json::array({json::array({json::array({"in", 0, 0, json::object()})}),
                     json::array({json::array({"in", 0, 0, json::object()})})});
    json shared = keras2_layer("Conv2D", "c", {"in"});
    shared["inbound_nodes"] = shared_node;
    EXPECT_EQ(error_of(functional(json::array({keras2_layer("InputLayer", "in", {}), shared}), "in",
                                  "c")),
              "layer c: called 2 times in the model; shared layers are not supported");
    EXPECT_EQ(error_of(functional(json::array({keras2_layer("InputLayer", "in", {}),
                                               keras2_layer("Lambda", "lam", {"in"})}),
                                  "in", "lam")),
              "layer lam: Lambda holds Python code; it cannot be imported");
    EXPECT_EQ(error_of(functional(json::array({keras2_layer("InputLayer", "in", {}),
                                               keras2_layer("Functional", "sub", {"in"})}),
                                  "in", "sub")),
              "layer sub: is a nested Functional model; nested models are not supported");
    EXPECT_EQ(error_of(functional(json::array({keras2_layer("InputLayer", "in", {}),
                                               keras2_layer("ReLU", "in", {"in"})}),
                                  "in", "in")),
              "layer in: name used by two layers");
    EXPECT_EQ(
        error_of(functional(json::array({keras2_layer("InputLayer", "in", {})}), "in", "out")),
        "model m.h5: output layer 'out' is not a layer of the model");
    EXPECT_EQ(error_of(json::parse(R"({"class_name": "MyModel", "config": {}})")),
              "model m.h5: model class MyModel is not supported (Functional, Model or Sequential "
              "expected)");
    EXPECT_EQ(error_of(json::parse(R"({"config": {}})")),
              "model m.h5: model_config lacks class_name or config");
}

TEST(KerasConfig, WrongJsonTypesAndDeepNestingAreModelErrors)
{
    // A number where Keras writes a string: nlohmann's type_error must not escape.
    const std::string number_class = error_of(json::parse(R"({"class_name": 7, "config": {}})"));
    EXPECT_EQ(number_class.rfind("model m.h5: model_config is malformed: ", 0), 0u) << number_class;
    json tensor = json::object();
    tensor["class_name"] = "__keras_tensor__";
    tensor["config"]["keras_history"] = json::array({json::object()}); // a name expected
    json node = json::object();
    node["args"] = json::array({tensor});
    json layer = json::object();
    layer["class_name"] = "ReLU";
    layer["name"] = "r";
    layer["inbound_nodes"] = json::array({node});
    const std::string bad_history = error_of(functional(json::array({layer}), "r", "r"));
    EXPECT_EQ(bad_history.rfind("model m.h5: model_config is malformed: ", 0), 0u) << bad_history;

    // Deep nesting is refused while parsing, before any recursive walk of it.
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    std::string message;
    try
    {
        spec_from_model_config_text(deep, "m.h5");
    }
    catch (const ModelError& e)
    {
        message = e.what();
    }
    EXPECT_EQ(message, "model m.h5: model_config is not JSON: nested deeper than 128 levels");
}

TEST(KerasConfig, WeightNames)
{
    EXPECT_EQ(short_weight_name("conv2d_3/kernel:0"), "kernel");
    EXPECT_EQ(short_weight_name("model/conv2d_3/bias"), "bias");
    EXPECT_EQ(short_weight_name("moving_mean:0"), "moving_mean");
    EXPECT_EQ(short_weight_name("a:b"), "a:b");
    EXPECT_EQ(*keras_weight_names("Conv2D", json::object()),
              (std::vector<std::string>{"kernel", "bias"}));
    EXPECT_EQ(*keras_weight_names("Dense", json{{"use_bias", false}}),
              std::vector<std::string>{"kernel"});
    EXPECT_EQ(*keras_weight_names("SeparableConv2D", json::object()),
              (std::vector<std::string>{"depthwise_kernel", "pointwise_kernel", "bias"}));
    EXPECT_EQ(*keras_weight_names("BatchNormalization", json{{"scale", false}}),
              (std::vector<std::string>{"beta", "moving_mean", "moving_variance"}));
    EXPECT_TRUE(keras_weight_names("MaxPooling2D", json::object())->empty());
    EXPECT_FALSE(keras_weight_names("FancyPooling2D", json::object()).has_value());
}

} // namespace
} // namespace atrous::infer
