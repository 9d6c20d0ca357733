package authz

import "encoding/json"

func jsonString(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

func jsonStrings(s []string) []byte {
	if s == nil {
		s = []string{}
	}
	b, _ := json.Marshal(s)
	return b
}
