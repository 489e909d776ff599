package tracer

import (
	"errors"
	"io"
)

// Scan reads src to its end and calls fn with every event in input order
// (findings follow the record that revealed them). It returns the Decoder,
// whose Summary and Contexts describe the whole input. An error from fn
// stops the scan and is returned as is.
func Scan(src io.Reader, opts Options, fn func(e *Event) error) (*Decoder, error) {
	d := NewDecoder(opts)
	rd := NewReader(src)
	err := ScanRecords(rd, d, fn)
	return d, err
}

// ScanRecords runs the records of rd through d; see Scan.
func ScanRecords(rd *Reader, d *Decoder, fn func(e *Event) error) error {
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		evs, err := d.Decode(rec)
		if err != nil {
			return err
		}
		for i := range evs {
			if err := fn(&evs[i]); err != nil {
				return err
			}
		}
	}
	evs := d.Flush()
	for i := range evs {
		if err := fn(&evs[i]); err != nil {
			return err
		}
	}
	return nil
}
