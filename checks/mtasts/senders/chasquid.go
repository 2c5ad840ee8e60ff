package senders

// emulateChasquid models chasquid, which docs/rules.md covers only through
// its commit "sts: Reject policies with max_age > 1y".
//
// Modelled: it rejects max_age above 31557600 and max_age 0 (STS-POL-9).
// Assumed: everything else is a strict RFC 8461 reading, including the
// RFC's suggested 60 s / 64 KiB fetch limits and the text/plain check; the
// "1y" limit is taken to be the RFC's 31557600 seconds.
func emulateChasquid(in Input) Verdict {
	v := emulateRFC(in)
	v.Impl = ImplChasquid
	if v.Outcome == Policy && v.MaxAge == 0 {
		b := newBuilder(ImplChasquid)
		b.fail(Invalid, "max_age 0 is rejected", "STS-POL-9")
		return b.v
	}
	return v
}
