package wire

import "errors"

// ToClassic is the classic framing of a datagram, as heartbeat 3.0.6's serial
// plugin writes every message on a tty: a classic datagram is returned as
// it is; a netstring one is rewritten as ">>>\n", its fields, the classic
// auth= field it carries inside (what heartbeat's add_msg_auth computes for
// the same fields and key), "<<<\n". It needs no key: the signature is the
// one the sender already put in.
func ToClassic(b []byte) ([]byte, error) {
	p, err := Decode(b)
	if err != nil {
		return nil, err
	}
	if p.Format == Classic {
		return b, nil
	}
	if p.Inner.Index < 0 {
		return nil, errors.New("netstring message without a classic auth field")
	}
	body, err := classicBody(nil, &p.Message)
	if err != nil {
		return nil, err
	}
	out := append([]byte(classicStart), body...)
	out = append(out, FAuth+"="+p.Inner.String()+"\n"...)
	return append(out, classicEnd...), nil
}
