// SPDX-License-Identifier: Apache-2.0
// Purpose: the float32 NHWC tensor the engine and the stages exchange.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <vector>

namespace atrous::infer
{

/// Dimensions of an NHWC tensor. A Dense/Flatten output is n x 1 x 1 x c.
struct Shape
{
    int n = 1;
    int h = 1;
    int w = 1;
    int c = 1;

    std::size_t size() const
    {
        return static_cast<std::size_t>(n) * static_cast<std::size_t>(h) *
               static_cast<std::size_t>(w) * static_cast<std::size_t>(c);
    }
    friend bool operator==(const Shape&, const Shape&) = default;
};

inline std::ostream& operator<<(std::ostream& os, const Shape& s)
{
    return os << "(" << s.n << "," << s.h << "," << s.w << "," << s.c << ")";
}

/// Owning, contiguous float32 tensor in NHWC order (channels fastest). Value type: copies copy.
class Tensor
{
public:
    Tensor() = default;
    explicit Tensor(Shape s, float fill = 0.0f) : m_shape(s), m_data(s.size(), fill) {}

    const Shape& shape() const { return m_shape; }
    std::size_t size() const { return m_data.size(); }
    float* data() { return m_data.data(); }
    const float* data() const { return m_data.data(); }

    float& at(int n, int y, int x, int c)
    {
        return m_data[index(n, y, x, c)];
    }
    float at(int n, int y, int x, int c) const { return m_data[index(n, y, x, c)]; }

    std::size_t index(int n, int y, int x, int c) const
    {
        assert(n >= 0 && n < m_shape.n && y >= 0 && y < m_shape.h && x >= 0 && x < m_shape.w &&
               c >= 0 && c < m_shape.c);
        return ((static_cast<std::size_t>(n) * m_shape.h + y) * m_shape.w + x) * m_shape.c + c;
    }

private:
    Shape m_shape{0, 0, 0, 0};
    std::vector<float> m_data;
};

} // namespace atrous::infer
