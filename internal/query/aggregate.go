package query

// accumulator folds the values of one aggregate over a group.
type accumulator struct {
	count   int64   // COUNT, AVG: defined (numeric) values seen
	sum     float64 // SUM, AVG
	best    Value   // MIN, MAX
	invalid bool    // a value of the wrong type was seen: the result is undefined
}

func (a *accumulator) add(fn string, v Value) {
	if v.k == kUndefined || a.invalid {
		return
	}
	switch fn {
	case "COUNT":
		a.count++
	case "SUM", "AVG":
		if v.k != kNumber {
			a.invalid = true
			return
		}
		a.sum += v.num
		a.count++
	case "MIN", "MAX":
		if v.k == kArray || v.k == kObject {
			a.invalid = true
			return
		}
		if a.best.k == kUndefined {
			a.best = v
			return
		}
		c := typeOrder(v, a.best)
		if (fn == "MIN" && c < 0) || (fn == "MAX" && c > 0) {
			a.best = v
		}
	}
}

func (a *accumulator) result(fn string) Value {
	if a.invalid {
		return undefined
	}
	switch fn {
	case "COUNT":
		return numValue(float64(a.count))
	case "SUM":
		return numValue(a.sum)
	case "AVG":
		if a.count == 0 {
			return undefined
		}
		return numValue(a.sum / float64(a.count))
	}
	return a.best
}
