// mbdsl_hls.h: the integer and stream types of mbdsl's generated HLS C++.
//
// ap_int/ap_uint and hls::stream are the vendor's (Xilinx's ap_int.h and hls_stream.h:
// those of a Vitis HLS installation, or the open-source copies that `mbdsl csim` finds in
// an installed hls4ml package); mbdsl adds two things:
//   mbdsl::vec<T, N>  one stream beat of N elements (element 0 in the low bits once packed);
//   mbdsl::rom<T>     the element type of constant arrays (weights, thresholds, biases).
//       Under synthesis it is T itself. On a host it is the smallest native integer that
//       holds T (T when wider than 64 bits): the vendor's ap_int has no constexpr
//       constructor, so a class-type array is initialized at run time, and g++ needs
//       gigabytes and minutes for a few hundred thousand weights. Every read converts the
//       element back to T (see the layer functions), so the arithmetic is the vendor's.
#ifndef MBDSL_HLS_H
#define MBDSL_HLS_H

#include <ap_int.h>
#include <hls_stream.h>

namespace mbdsl {

template <typename T>
struct rom {
    typedef T type;
};

#ifndef __SYNTHESIS__
}  // namespace mbdsl

#include <type_traits>

namespace mbdsl {
namespace detail {
template <int W, bool S, typename T>
struct native {
    typedef typename std::conditional<
        (W <= 8), typename std::conditional<S, signed char, unsigned char>::type,
        typename std::conditional<
            (W <= 16), typename std::conditional<S, short, unsigned short>::type,
            typename std::conditional<
                (W <= 32), typename std::conditional<S, int, unsigned int>::type,
                typename std::conditional<(W <= 64), typename std::conditional<S, long long, unsigned long long>::type,
                                          T>::type>::type>::type>::type type;
};
}  // namespace detail

template <int W>
struct rom<ap_int<W> > {
    typedef typename detail::native<W, true, ap_int<W> >::type type;
};
template <int W>
struct rom<ap_uint<W> > {
    typedef typename detail::native<W, false, ap_uint<W> >::type type;
};
#endif

// One stream beat: N elements, element 0 first (lowest bits once packed).
template <typename T, int N>
struct vec {
    T v[N];
};

}  // namespace mbdsl

#endif  // MBDSL_HLS_H
