package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"sigs.k8s.io/yaml"
)

// sources are the parsed policy modules and the merged data document.
type sources struct {
	modules map[string]*ast.Module
	data    map[string]any
	// sums holds the SHA-256 (hex) of each module's and data file's bytes, by file, for Digest.
	sums map[string]string
}

// loadSources parses the bundle's and the extra directories' Rego modules (test modules too
// when withTests is set) and merges the bundle's data.json files with the data files.
func loadSources(bundle fs.FS, extraDirs, dataFiles []string, withTests bool) (*sources, error) {
	s := &sources{modules: map[string]*ast.Module{}, data: map[string]any{}, sums: map[string]string{}}
	if bundle != nil {
		if err := s.addFS(bundle, "policies", withTests); err != nil {
			return nil, err
		}
	}
	for _, dir := range extraDirs {
		info, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("policy directory %s: %w", dir, pathErr(err))
		}
		if !info.IsDir() {
			return nil, fmt.Errorf("policy directory %s is a file: pass the directory holding the .rego files", dir)
		}
		if err := s.addFS(os.DirFS(dir), filepath.ToSlash(filepath.Clean(dir)), withTests); err != nil {
			return nil, err
		}
	}
	for _, f := range dataFiles {
		doc, err := readDataFile(f)
		if err != nil {
			return nil, err
		}
		mergeInto(s.data, doc)
	}
	return s, nil
}

// addFS adds every .rego module below root of fsys; a data.json or data.yaml file in a
// directory is placed at that directory's path in the data document, as in OPA bundles.
func (s *sources) addFS(fsys fs.FS, label string, withTests bool) error {
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		files = append(files, p)
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading policies in %s: %w", label, pathErr(err))
	}
	sort.Strings(files)
	for _, p := range files {
		name := path.Base(p)
		switch {
		case strings.HasSuffix(name, ".rego"):
			if !withTests && strings.HasSuffix(name, "_test.rego") {
				continue
			}
			src, err := fs.ReadFile(fsys, p)
			if err != nil {
				return fmt.Errorf("reading policy %s/%s: %w", label, p, pathErr(err))
			}
			file := label + "/" + p
			m, err := ast.ParseModuleWithOpts(file, string(src), ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1})
			if err != nil {
				return fmt.Errorf("policy %s: %s", file, oneLine(err))
			}
			s.modules[file] = m
			s.sums[file] = fileSum(src)
		case name == "data.json" || name == "data.yaml" || name == "data.yml":
			src, err := fs.ReadFile(fsys, p)
			if err != nil {
				return fmt.Errorf("reading policy data %s/%s: %w", label, p, pathErr(err))
			}
			doc, err := decodeData(src, name)
			if err != nil {
				return fmt.Errorf("policy data %s/%s: %w", label, p, err)
			}
			s.sums[label+"/"+p] = fileSum(src)
			if dir := path.Dir(p); dir != "." {
				for _, seg := range slicesReverse(strings.Split(dir, "/")) {
					doc = map[string]any{seg: doc}
				}
			}
			mergeInto(s.data, doc)
		}
	}
	return nil
}

func slicesReverse(s []string) []string {
	out := make([]string, len(s))
	for i, e := range s {
		out[len(s)-1-i] = e
	}
	return out
}

// readDataFile reads a JSON or YAML document that is merged over the bundle data.
func readDataFile(file string) (map[string]any, error) {
	src, err := readInputFile(file, maxDataFileBytes)
	if err != nil {
		return nil, fmt.Errorf("data file %s: %w", file, err)
	}
	doc, err := decodeData(src, file)
	if err != nil {
		return nil, fmt.Errorf("data file %s: %w", file, err)
	}
	return doc, nil
}

func decodeData(src []byte, name string) (map[string]any, error) {
	js := src
	if len(bytes.TrimSpace(src)) == 0 {
		return nil, fmt.Errorf("is empty: write an object such as {\"tokenguard\": {\"thresholds\": {...}}}")
	}
	if !strings.HasSuffix(name, ".json") {
		var err error
		if js, err = yaml.YAMLToJSON(src); err != nil {
			return nil, fmt.Errorf("not valid YAML: %s", oneLine(err))
		}
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not valid JSON: %s", oneLine(err))
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("must hold an object at the top level, such as {\"tokenguard\": {\"thresholds\": {...}}}")
	}
	// Everything under "tokenguard" is read by the bundle as objects: a list or a string there
	// would silently switch rules off.
	if tg, present := m["tokenguard"]; present {
		if _, ok := tg.(map[string]any); !ok {
			return nil, fmt.Errorf("\"tokenguard\" must be an object, such as {\"thresholds\": {...}, \"erased_subjects\": [...]}")
		}
	}
	return m, nil
}

// mergeInto merges src over dst: objects merge key by key, anything else replaces.
func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		if sv, ok := v.(map[string]any); ok {
			if dv, ok := dst[k].(map[string]any); ok {
				mergeInto(dv, sv)
				continue
			}
		}
		dst[k] = v
	}
}

// pathErr drops the repeated path from *fs.PathError so messages name the file once.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// oneLine joins a multi-line error onto one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
