// SPDX-License-Identifier: Apache-2.0
// Purpose: the neutral float image the stages exchange (a tile's pixels, a prediction): height x
// width x channels, channels fastest, contiguous. Only infer knows the engine's tensor; it wraps
// an image as a tensor view and moves a tensor's storage into an image, without copies.
#pragma once

#include <cassert>
#include <cstddef>
#include <ostream>
#include <stdexcept>
#include <utility>
#include <vector>

namespace atrous
{

/// Height x width x channels. A classifier's prediction is 1 x 1 x C.
struct ImageShape
{
    int height = 0;
    int width = 0;
    int channels = 0;

    std::size_t size() const
    {
        return static_cast<std::size_t>(height) * static_cast<std::size_t>(width) *
               static_cast<std::size_t>(channels);
    }
    friend bool operator==(const ImageShape&, const ImageShape&) = default;
};

inline std::ostream& operator<<(std::ostream& os, const ImageShape& s)
{
    return os << "(" << s.height << "," << s.width << "," << s.channels << ")";
}

/// An owning float image, rows top to bottom, pixels left to right, channels fastest (the
/// layout of the engine's 1 x H x W x C tensor). Value type: copies copy, moves move the storage.
class Image
{
public:
    Image() = default;
    explicit Image(ImageShape s, float fill = 0.0f) : m_shape(s), m_data(s.size(), fill) {}
    /// Adopts `storage` (exactly s.size() floats, HWC order) without copying it.
    Image(ImageShape s, std::vector<float>&& storage) : m_shape(s), m_data(std::move(storage))
    {
        if (m_data.size() != m_shape.size())
            throw std::invalid_argument("Image: storage size does not match the shape");
    }
    Image(const Image&) = default;
    Image& operator=(const Image&) = default;
    Image(Image&& other) noexcept
        : m_shape(std::exchange(other.m_shape, ImageShape{})), m_data(std::move(other.m_data))
    {
        other.m_data.clear();
    }
    Image& operator=(Image&& other) noexcept
    {
        m_shape = std::exchange(other.m_shape, ImageShape{});
        m_data = std::move(other.m_data);
        other.m_data.clear();
        return *this;
    }
    ~Image() = default;

    const ImageShape& shape() const { return m_shape; }
    int height() const { return m_shape.height; }
    int width() const { return m_shape.width; }
    int channels() const { return m_shape.channels; }
    std::size_t size() const { return m_data.size(); } // height * width * channels floats
    bool empty() const { return m_data.empty(); }
    float* data() { return m_data.data(); }
    const float* data() const { return m_data.data(); }

    std::size_t index(int y, int x, int c) const
    {
        assert(y >= 0 && y < m_shape.height && x >= 0 && x < m_shape.width && c >= 0 &&
               c < m_shape.channels);
        return (static_cast<std::size_t>(y) * static_cast<std::size_t>(m_shape.width) +
                static_cast<std::size_t>(x)) *
                   static_cast<std::size_t>(m_shape.channels) +
               static_cast<std::size_t>(c);
    }
    float& at(int y, int x, int c) { return m_data[index(y, x, c)]; }
    float at(int y, int x, int c) const { return m_data[index(y, x, c)]; }

    /// Hands the storage over (e.g. to an engine tensor) and leaves the image empty.
    std::vector<float> release() &&
    {
        m_shape = ImageShape{};
        return std::move(m_data);
    }

private:
    ImageShape m_shape;
    std::vector<float> m_data;
};

} // namespace atrous
