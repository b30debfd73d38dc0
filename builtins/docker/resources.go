package docker

import (
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// labelDiffs lists the requested labels that have differs from have.
func labelDiffs(want, have map[string]string) []string {
	var diffs []string
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		got, ok := have[k]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("label %s: missing, request is %q", k, want[k]))
		case got != want[k]:
			diffs = append(diffs, fmt.Sprintf("label %s: %q, request is %q", k, got, want[k]))
		}
	}
	return diffs
}

// managedLabels returns labels with the label that marks cocalcctl's work.
func managedLabels(labels map[string]string) map[string]string {
	out := map[string]string{ManagedLabel: "true"}
	maps.Copy(out, labels)
	return out
}

func networkFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		name   string
		driver = "bridge"
		labels *starlark.Dict
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "driver?", &driver, "labels?", &labels); err != nil {
		return nil, err
	}

	want, err := requestedLabels(b, "network", name, labels)
	if err != nil {
		return nil, err
	}
	engine, step, err := beginStep(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}

	env := step.Env()
	n, err := engine.NetworkInspect(env.Ctx, name)
	if err == nil {
		var diffs []string
		if n.Driver != driver {
			diffs = append(diffs, fmt.Sprintf("driver: %s, request is %s", n.Driver, driver))
		}
		diffs = append(diffs, labelDiffs(want, n.Labels)...)
		return keepExisting(step, "network", name, diffs,
			fmt.Sprintf("remove it with docker.remove_network(%q) after removing its containers, or change the request", name))
	}

	return createMissing(step, b, name, err, func() error {
		_, err := engine.NetworkCreate(env.Ctx, NetworkSpec{Name: name, Driver: driver, Labels: managedLabels(want)})
		return err
	})
}

func volumeFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		name   string
		labels *starlark.Dict
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "labels?", &labels); err != nil {
		return nil, err
	}

	want, err := requestedLabels(b, "volume", name, labels)
	if err != nil {
		return nil, err
	}
	engine, step, err := beginStep(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}

	env := step.Env()
	v, err := engine.VolumeInspect(env.Ctx, name)
	if err == nil {
		return keepExisting(step, "volume", name, labelDiffs(want, v.Labels),
			"a volume's labels cannot change: drop them from the request, or move the data to a new volume")
	}

	return createMissing(step, b, name, err, func() error {
		_, err := engine.VolumeCreate(env.Ctx, VolumeSpec{Name: name, Labels: managedLabels(want)})
		return err
	})
}

// requestedLabels checks the name of a network or volume, as kind says, and
// returns the labels its request sets.
func requestedLabels(b *starlark.Builtin, kind, name string, labels *starlark.Dict) (map[string]string, error) {
	if err := checkName(b, kind, name); err != nil {
		return nil, err
	}
	want, err := stringDict(labels)
	if err != nil {
		return nil, fmt.Errorf("%s: labels: %w", b.Name(), err)
	}
	return want, nil
}

// keepExisting ends step for a network or volume that exists. It reports
// drift with fix as the remedy when diffs is not empty, and the resource as
// unchanged otherwise.
func keepExisting(step *runtime.Step, kind, name string, diffs []string, fix string) (starlark.Value, error) {
	if len(diffs) > 0 {
		return nil, step.Drift(fmt.Sprintf("%s %q", kind, name), diffs, fix)
	}
	step.Report(runtime.Unchanged, "")
	return starlark.String(name), nil
}

// createMissing ends step for a network or volume whose inspection failed
// with inspectErr. It creates the resource with create when inspectErr is
// ErrNotFound, and fails the step on any other error.
func createMissing(step *runtime.Step, b *starlark.Builtin, name string, inspectErr error, create func() error) (starlark.Value, error) {
	if !errors.Is(inspectErr, ErrNotFound) {
		return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), inspectErr))
	}

	err := step.Apply(runtime.Created, "", func() error {
		if err := create(); err != nil {
			return fmt.Errorf("%s: %w", b.Name(), err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return starlark.String(name), nil
}

func removeNetwork(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name); err != nil {
		return nil, err
	}
	engine, step, err := beginStep(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}

	env := step.Env()
	n, err := engine.NetworkInspect(env.Ctx, name)
	if errors.Is(err, ErrNotFound) {
		step.Report(runtime.Unchanged, "no such network")
		return starlark.None, nil
	}
	if err != nil {
		return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
	}
	if len(n.Containers) > 0 && env.DryRun {
		step.Report(runtime.Warning, "running containers are attached: "+strings.Join(n.Containers, ", "))
		return starlark.None, nil
	}

	inUse := fmt.Sprintf("network %q is in use by running containers (%s): stop or remove them first with docker.stop or docker.remove",
		name, strings.Join(n.Containers, ", "))
	return removeExisting(step, b, inUse, func() error {
		return engine.NetworkRemove(env.Ctx, name)
	})
}

func removeVolume(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name); err != nil {
		return nil, err
	}
	engine, step, err := beginStep(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}

	env := step.Env()
	_, err = engine.VolumeInspect(env.Ctx, name)
	if errors.Is(err, ErrNotFound) {
		step.Report(runtime.Unchanged, "no such volume")
		return starlark.None, nil
	}
	if err != nil {
		return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
	}
	if err := step.Confirm(fmt.Sprintf("delete volume %s and all data in it", name)); err != nil {
		return nil, err
	}

	inUse := fmt.Sprintf("volume %q is in use by a container: remove the container first with docker.remove", name)
	return removeExisting(step, b, inUse, func() error {
		return engine.VolumeRemove(env.Ctx, name)
	})
}

// removeExisting ends step by removing a network or volume with remove. If
// remove fails with ErrInUse, the step fails with inUse, after the builtin's
// name, in place of the engine's error.
func removeExisting(step *runtime.Step, b *starlark.Builtin, inUse string, remove func() error) (starlark.Value, error) {
	return starlark.None, step.Apply(runtime.Removed, "", func() error {
		err := remove()
		if errors.Is(err, ErrInUse) {
			return fmt.Errorf("%s: %s", b.Name(), inUse)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", b.Name(), err)
		}
		return nil
	})
}

// progressInterval is the least time between two progress events of a pull.
const progressInterval = 500 * time.Millisecond

func imageExistsFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var ref string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ref", &ref); err != nil {
		return nil, err
	}

	if ref == "" {
		return nil, fmt.Errorf("%s: ref is empty: name an image such as \"postgres:17\"", b.Name())
	}
	engine, err := engineOf(thread, b)
	if err != nil {
		return nil, err
	}
	_, err = engine.ImageInspect(runtime.EnvOf(thread).Ctx, ref)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.Bool(err == nil), nil
}

func imageFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var ref, pull = "", "missing"
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ref", &ref, "pull?", &pull); err != nil {
		return nil, err
	}

	if ref == "" {
		return nil, fmt.Errorf("%s: ref is empty: name an image such as \"postgres:17\"", b.Name())
	}
	if pull != "missing" && pull != "always" && pull != "never" {
		return nil, fmt.Errorf("%s: pull %q, want \"missing\", \"always\" or \"never\"", b.Name(), pull)
	}
	engine, step, err := beginStep(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}

	env := step.Env()
	before, err := engine.ImageInspect(env.Ctx, ref)
	present := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
	}

	switch {
	case present && pull != "always":
		step.Report(runtime.Unchanged, "")
		return starlark.String(ref), nil
	case !present && pull == "never":
		return nil, step.Fail(fmt.Errorf("%s: image %q is not present and pull=\"never\" forbids fetching it: "+
			"load it with `docker load -i FILE`, import it with `docker import`, build it with `docker build -t %s .`, "+
			"or pass pull=\"missing\"", b.Name(), ref, ref))
	case env.DryRun:
		status := runtime.Created
		if present {
			status = runtime.Changed
		}
		step.Report(status, "would pull "+ref)
		return starlark.String(ref), nil
	}

	var last time.Time
	err = engine.ImagePull(env.Ctx, ref, func(p PullProgress) {
		now := time.Now()
		if now.Sub(last) < progressInterval && p.LayersDone < p.Layers {
			return
		}
		last = now
		step.Progress("%d/%d layers, %s of %s", p.LayersDone, p.Layers, byteSize(p.Current), byteSize(p.Total))
	})
	if errors.Is(err, ErrNotFound) {
		return nil, step.Fail(fmt.Errorf("%s: the registry has no image %q: check the name and tag", b.Name(), ref))
	}
	if err != nil {
		return nil, step.Fail(fmt.Errorf("%s: %w: check that the registry is reachable, or load the image with `docker load`", b.Name(), err))
	}

	after, err := engine.ImageInspect(env.Ctx, ref)
	if err != nil {
		return nil, step.Fail(fmt.Errorf("%s: the pull of %q ended but the image is not there: %w", b.Name(), ref, err))
	}
	switch {
	case !present:
		step.Report(runtime.Created, shortID(after.ID))
	case after.ID != before.ID:
		step.Report(runtime.Changed, fmt.Sprintf("%s, was %s", shortID(after.ID), shortID(before.ID)))
	default:
		step.Report(runtime.Unchanged, "up to date")
	}
	return starlark.String(ref), nil
}

// byteSize renders n bytes with a binary unit.
func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// shortID returns the first 12 hex digits of an ID.
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func commit(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		container nameArg
		ref       string
		changes   stringListArg
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "container", &container, "ref", &ref, "changes?", &changes); err != nil {
		return nil, err
	}

	if ref == "" {
		return nil, fmt.Errorf("%s: ref is empty: name the image to save, such as \"local/postgres:17\"", b.Name())
	}
	engine, step, err := beginStep(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}

	env := step.Env()
	if _, err := engine.ImageInspect(env.Ctx, ref); err == nil {
		step.Report(runtime.Unchanged, "image exists")
		return starlark.String(ref), nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
	}

	if _, err := engine.ContainerInspect(env.Ctx, container.name); err != nil {
		if errors.Is(err, ErrNotFound) && env.DryRun {
			step.Report(runtime.Created, "")
			return starlark.String(ref), nil
		}
		return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
	}
	err = step.Apply(runtime.Created, "", func() error {
		if _, err := engine.ContainerCommit(env.Ctx, container.name, ref, changes.list); err != nil {
			return fmt.Errorf("%s: saving container %q as %q: %w", b.Name(), container.name, ref, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return starlark.String(ref), nil
}
