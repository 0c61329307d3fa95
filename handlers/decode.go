package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// MaxBodyBytes bounds every request body. An open-data payload (the
// largest, WeRun's 30 days of steps) is a few KiB.
const MaxBodyBytes = 64 << 10

// decodeJSON reads the request body into dst strictly: JSON media type,
// at most MaxBodyBytes, one value and nothing after it, and (unless
// allowUnknown) no fields dst does not name. Errors are *Error with a
// detail that names the problem but never quotes the body.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any, allowUnknown bool) error {
	if err := checkJSONType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	return DecodeStrict(r.Body, dst, allowUnknown)
}

// checkJSONType accepts application/json with an optional charset of UTF-8.
func checkJSONType(ct string) error {
	if ct == "application/json" {
		return nil // what clients send nearly always; no need to parse it
	}
	if ct == "" {
		return errorf(CodeUnsupportedMediaType, "Content-Type must be application/json")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return errorf(CodeUnsupportedMediaType, "Content-Type must be application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return errorf(CodeUnsupportedMediaType, "the body must be UTF-8 JSON")
	}
	return nil
}

// DecodeStrict decodes exactly one JSON object from r into dst. It is
// exported for fuzzing; handlers use decodeJSON.
func DecodeStrict(r io.Reader, dst any, allowUnknown bool) error {
	dec := json.NewDecoder(r)
	if !allowUnknown {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return decodeError(err)
		}
		return errorf(CodeInvalidRequest, "the body must hold exactly one JSON object, with nothing after it")
	}
	return nil
}

func decodeError(err error) error {
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return errorf(CodePayloadTooLarge, fmt.Sprintf("the body is larger than %d bytes", mbe.Limit))
	case errors.Is(err, io.EOF):
		return errorf(CodeInvalidRequest, "the body is empty; want a JSON object")
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(CodeInvalidRequest, "the body is not valid JSON")
	case errors.As(err, &te):
		if te.Field == "" {
			return errorf(CodeInvalidRequest, "the body must be a JSON object")
		}
		return errorf(CodeInvalidRequest, fmt.Sprintf("field %q must be a %s", te.Field, jsonKind(te.Type.Kind().String())))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// The name is not quoted back: the detail never echoes client input.
		return errorf(CodeInvalidRequest, "the body has a field this endpoint does not take")
	default:
		return errorf(CodeInvalidRequest, "the body is not valid JSON")
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	case "bool":
		return "boolean"
	default:
		return "number"
	}
}
