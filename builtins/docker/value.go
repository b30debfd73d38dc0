package docker

import (
	"fmt"
	"strconv"

	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// ContainerValue is what docker.container returns: the container's name,
// ID, address and image. Every docker builtin that takes a container accepts
// it in place of the name. Under --dry-run the ID and address of a container
// that does not exist yet are unknowns.
type ContainerValue struct {
	name  string
	id    starlark.Value
	ip    starlark.Value
	image string
	net   string
}

var _ starlark.HasAttrs = (*ContainerValue)(nil)

// newContainerValue describes c, with its address on c's network.
func newContainerValue(c Container) *ContainerValue {
	v := &ContainerValue{name: c.Name, id: starlark.String(c.ID), ip: starlark.None, image: c.Image, net: c.Network}
	if ip := c.IPs[c.Network]; ip != "" {
		v.ip = starlark.String(ip)
	}
	return v
}

// unknownContainerValue describes a container that exists only after apply.
func unknownContainerValue(thread *starlark.Thread, spec ContainerSpec) *ContainerValue {
	call := fmt.Sprintf("docker.container(%s)", strconv.Quote(spec.Name))
	return &ContainerValue{
		name:  spec.Name,
		id:    runtime.NewUnknown(thread, call+".id"),
		ip:    runtime.NewUnknown(thread, call+".ip"),
		image: spec.Image,
		net:   orDefault(spec.Network, "bridge"),
	}
}

// Name returns the container's name.
func (c *ContainerValue) Name() string { return c.name }

// String renders the container as its quoted name, so a step line that
// takes it reads as a call that reproduces the step.
func (c *ContainerValue) String() string        { return strconv.Quote(c.name) }
func (c *ContainerValue) Type() string          { return "docker.container" }
func (c *ContainerValue) Freeze()               {}
func (c *ContainerValue) Truth() starlark.Bool  { return starlark.True }
func (c *ContainerValue) Hash() (uint32, error) { return starlark.String(c.name).Hash() }

// Attr implements starlark.HasAttrs.
func (c *ContainerValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "name":
		return starlark.String(c.name), nil
	case "id":
		return c.id, nil
	case "ip":
		return c.ip, nil
	case "image":
		return starlark.String(c.image), nil
	case "network":
		return starlark.String(c.net), nil
	}
	return nil, nil
}

// AttrNames implements starlark.HasAttrs.
func (c *ContainerValue) AttrNames() []string {
	return []string{"id", "image", "ip", "name", "network"}
}
