"""A line-by-line Python port of LightGBM 4.7.0's numerical/categorical BinMapper::FindBin
(src/io/bin.cpp) for the no-forced-bins, all-rows-sampled case (n <= bin_construct_sample_cnt).

Used to (1) write golden bin layouts next to the golden models and (2) check that every
threshold in LightGBM's own model is one of these bounds (a self-test of the port).
"""
import math

import numpy as np

K_ZERO = float(np.float32(1e-35))  # kZeroThreshold = 1e-35f widened to double
K_SPARSE = 0.7


def next_up(a):
    return math.nextafter(a, math.inf)


def check_double_equal_ordered(a, b):
    return b <= next_up(a)


def greedy_find_bin(dv, cnt, max_bin, total_cnt, min_data_in_bin):
    n = len(dv)
    out = []
    assert max_bin > 0
    if n <= max_bin:
        cur = 0
        for i in range(n - 1):
            cur += cnt[i]
            if cur >= min_data_in_bin:
                val = next_up((dv[i] + dv[i + 1]) / 2.0)
                if not out or not check_double_equal_ordered(out[-1], val):
                    out.append(val)
                    cur = 0
        out.append(math.inf)
        return out
    if min_data_in_bin > 0:
        max_bin = min(max_bin, int(total_cnt // min_data_in_bin))
        max_bin = max(max_bin, 1)
    mean_bin_size = total_cnt / max_bin
    rest_bin_cnt = max_bin
    rest_sample_cnt = int(total_cnt)
    big = [False] * n
    for i in range(n):
        if cnt[i] >= mean_bin_size:
            big[i] = True
            rest_bin_cnt -= 1
            rest_sample_cnt -= cnt[i]
    mean_bin_size = rest_sample_cnt / rest_bin_cnt if rest_bin_cnt != 0 else math.inf
    upper = [math.inf] * max_bin
    lower = [math.inf] * max_bin
    bin_cnt = 0
    lower[0] = dv[0]
    cur = 0
    for i in range(n - 1):
        if not big[i]:
            rest_sample_cnt -= cnt[i]
        cur += cnt[i]
        if big[i] or cur >= mean_bin_size or (big[i + 1] and cur >= max(1.0, mean_bin_size * 0.5)):
            upper[bin_cnt] = dv[i]
            bin_cnt += 1
            lower[bin_cnt] = dv[i + 1]
            if bin_cnt >= max_bin - 1:
                break
            cur = 0
            if not big[i]:
                rest_bin_cnt -= 1
                mean_bin_size = rest_sample_cnt / rest_bin_cnt if rest_bin_cnt != 0 else math.inf
    bin_cnt += 1
    for i in range(bin_cnt - 1):
        val = next_up((upper[i] + lower[i + 1]) / 2.0)
        if not out or not check_double_equal_ordered(out[-1], val):
            out.append(val)
    out.append(math.inf)
    return out


def find_bin_zero_as_one_bin(dv, cnt, max_bin, total_sample_cnt, min_data_in_bin):
    n = len(dv)
    left_cnt_data = cnt_zero = right_cnt_data = 0
    for v, c in zip(dv, cnt):
        if v <= -K_ZERO:
            left_cnt_data += c
        elif v > K_ZERO:
            right_cnt_data += c
        else:
            cnt_zero += c
    left_cnt = -1
    for i in range(n):
        if dv[i] > -K_ZERO:
            left_cnt = i
            break
    if left_cnt < 0:
        left_cnt = n
    out = []
    if left_cnt > 0 and max_bin > 1:
        left_max_bin = int(left_cnt_data / (total_sample_cnt - cnt_zero) * (max_bin - 1))
        left_max_bin = max(1, left_max_bin)
        out = greedy_find_bin(dv[:left_cnt], cnt[:left_cnt], left_max_bin, left_cnt_data, min_data_in_bin)
        if out:
            out[-1] = -K_ZERO
    right_start = -1
    for i in range(left_cnt, n):
        if dv[i] > K_ZERO:
            right_start = i
            break
    right_max_bin = max_bin - 1 - len(out)
    if right_start >= 0 and right_max_bin > 0:
        rb = greedy_find_bin(dv[right_start:], cnt[right_start:], right_max_bin, right_cnt_data, min_data_in_bin)
        out.append(K_ZERO)
        out.extend(rb)
    else:
        out.append(math.inf)
    assert len(out) <= max_bin
    return out


def value_to_bin(m, value):
    if math.isnan(value):
        if m["bin_type"] == "categorical":
            return 0
        if m["missing_type"] == "NaN":
            return m["num_bin"] - 1
        value = 0.0
    if m["bin_type"] == "numerical":
        ub = m["upper"]
        l, r = 0, m["num_bin"] - 1
        if m["missing_type"] == "NaN":
            r -= 1
        while l < r:
            mid = (r + l - 1) // 2
            if value <= ub[mid]:
                r = mid
            else:
                l = mid + 1
        return l
    iv = int(value)
    if iv < 0:
        return 0
    return m["cat2bin"].get(iv, 0)


def find_bin(column, max_bin=255, min_data_in_bin=3, min_split_data=20, pre_filter=True,
             categorical=False, use_missing=True, zero_as_missing=False):
    """column: all rows of one feature (float64, NaN allowed)."""
    column = np.asarray(column, dtype=np.float64)
    total_sample_cnt = len(column)
    # The sample LightGBM hands to FindBin: only |v| > kZeroThreshold or NaN.
    values = [float(v) for v in column if math.isnan(v) or abs(v) > K_ZERO]
    num_sample_values = len(values)
    non_na = [v for v in values if not math.isnan(v)]
    na_cnt = 0
    if not use_missing:
        missing = "None"
    elif zero_as_missing:
        missing = "Zero"
    elif len(non_na) == num_sample_values:
        missing = "None"
    else:
        missing = "NaN"
        na_cnt = num_sample_values - len(non_na)
    values = sorted(non_na)  # std::stable_sort on doubles
    num_sample_values = len(values)
    zero_cnt = total_sample_cnt - num_sample_values - na_cnt
    dv, cnt = [], []
    if num_sample_values == 0 or (values[0] > 0.0 and zero_cnt > 0):
        dv.append(0.0)
        cnt.append(zero_cnt)
    if num_sample_values > 0:
        dv.append(values[0])
        cnt.append(1)
    for i in range(1, num_sample_values):
        if not check_double_equal_ordered(values[i - 1], values[i]):
            if values[i - 1] < 0.0 and values[i] > 0.0:
                dv.append(0.0)
                cnt.append(zero_cnt)
            dv.append(values[i])
            cnt.append(1)
        else:
            dv[-1] = values[i]
            cnt[-1] += 1
    if num_sample_values > 0 and values[-1] < 0.0 and zero_cnt > 0:
        dv.append(0.0)
        cnt.append(zero_cnt)
    m = {"missing_type": missing, "min_val": dv[0], "max_val": dv[-1]}
    if not categorical:
        m["bin_type"] = "numerical"
        if missing == "Zero":
            ub = find_bin_zero_as_one_bin(dv, cnt, max_bin, total_sample_cnt, min_data_in_bin)
            if len(ub) == 2:
                m["missing_type"] = missing = "None"
        elif missing == "None":
            ub = find_bin_zero_as_one_bin(dv, cnt, max_bin, total_sample_cnt, min_data_in_bin)
        else:
            ub = find_bin_zero_as_one_bin(dv, cnt, max_bin - 1, total_sample_cnt - na_cnt, min_data_in_bin)
            ub.append(math.nan)
        num_bin = len(ub)
        cnt_in_bin = [0] * num_bin
        i_bin = 0
        for v, c in zip(dv, cnt):
            while v > ub[i_bin] and i_bin < num_bin - 1:
                i_bin += 1
            cnt_in_bin[i_bin] += c
        if missing == "NaN":
            cnt_in_bin[num_bin - 1] = na_cnt
        m["upper"] = ub
    else:
        m["bin_type"] = "categorical"
        dvi, cnti = [], []
        for v, c in zip(dv, cnt):
            iv = int(v)
            if iv < 0:
                na_cnt += c
            elif not dvi or iv != dvi[-1]:
                dvi.append(iv)
                cnti.append(c)
            else:
                cnti[-1] += c
        rest_cnt = total_sample_cnt - na_cnt
        num_bin = 1
        b2c, c2b, cnt_in_bin = [-1], {-1: 0}, [0]
        if rest_cnt > 0:
            order = sorted(range(len(dvi)), key=lambda k: -cnti[k])  # stable, count desc
            dvi = [dvi[k] for k in order]
            cnti = [cnti[k] for k in order]
            cut_cnt = int(float(np.float32(np.float32(total_sample_cnt - na_cnt) * np.float32(0.99))) + 0.5)  # RoundInt(float)
            distinct_cnt = len(dvi) + (1 if na_cnt > 0 else 0)
            mb = min(distinct_cnt, max_bin)
            used = 0
            k = 0
            while k < len(dvi) and (used < cut_cnt or num_bin < mb):
                if cnti[k] < min_data_in_bin and k > 1:
                    break
                b2c.append(dvi[k])
                c2b[dvi[k]] = num_bin
                used += cnti[k]
                cnt_in_bin.append(cnti[k])
                num_bin += 1
                k += 1
            m["missing_type"] = "None" if (k == len(dvi) and na_cnt == 0) else "NaN"
            cnt_in_bin[0] = total_sample_cnt - used
        m["bin_2_categorical"] = b2c
        m["cat2bin"] = c2b
    m["num_bin"] = num_bin
    m["cnt_in_bin"] = cnt_in_bin
    trivial = num_bin <= 1
    if not trivial and pre_filter and need_filter(cnt_in_bin, total_sample_cnt, min_split_data, m["bin_type"]):
        trivial = True
    m["is_trivial"] = trivial
    if not trivial:
        m["default_bin"] = value_to_bin(m, 0.0)
        mfb = int(np.argmax(cnt_in_bin))
        if mfb != m["default_bin"] and cnt_in_bin[mfb] / total_sample_cnt < K_SPARSE:
            mfb = m["default_bin"]
        m["most_freq_bin"] = mfb
        m["sparse_rate"] = cnt_in_bin[mfb] / total_sample_cnt
    return m


def need_filter(cnt_in_bin, total_cnt, filter_cnt, bin_type):
    if bin_type == "numerical":
        s = 0
        for i in range(len(cnt_in_bin) - 1):
            s += cnt_in_bin[i]
            if s >= filter_cnt and total_cnt - s >= filter_cnt:
                return False
        return True
    if len(cnt_in_bin) <= 2:
        for i in range(len(cnt_in_bin) - 1):
            s = cnt_in_bin[i]
            if s >= filter_cnt and total_cnt - s >= filter_cnt:
                return False
        return True
    return False
