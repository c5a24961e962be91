package status

import "time"

// The kinds of object in the store, as `kiln get KIND` names them.
const (
	KindResource   = "resources"   // one per resource of the plan, images included
	KindApply      = "applies"     // one per Kubernetes resource: what kiln applied, and the result
	KindDiscovery  = "discovery"   // one per Kubernetes resource: its pods
	KindForward    = "forwards"    // one per port forward
	KindLogStream  = "logs"        // one per log stream (resource/pod/container)
	KindImage      = "images"      // one per image
	KindLiveUpdate = "liveupdates" // one per image with live_update: the last sync
	KindLocal      = "locals"      // one per local resource
	KindFileWatch  = "filewatches" // one for the project: the last change and what it triggered
	KindButton     = "buttons"     // one per v1alpha1.ui_button: where it shows, its inputs and command
)

// Kinds lists every kind, in the order `kiln get` documents them.
var Kinds = []string{KindResource, KindApply, KindDiscovery, KindForward, KindLogStream, KindImage, KindLiveUpdate, KindLocal, KindFileWatch, KindButton}

// Resource states.
const (
	StatePending  = "pending"             // not run yet in this session
	StateUpdating = "updating"            // building, applying or running now
	StateReady    = "ready"               // up and ready
	StateFailed   = "failed"              // the last update failed: see Error
	StateSkipped  = "skipped"             // auto_init=False or not enabled
	StateWaiting  = "waiting for trigger" // trigger_mode manual: changed, waiting for kiln trigger
)

// ResourceSpec is what the plan says of a resource.
type ResourceSpec struct {
	Type         string   `json:"type"` // "k8s", "local" or "image"
	TriggerMode  string   `json:"triggerMode,omitempty"`
	AutoInit     bool     `json:"autoInit"`
	ResourceDeps []string `json:"resourceDeps,omitempty"`
	Images       []string `json:"images,omitempty"`
	Labels       []string `json:"labels,omitempty"`
	Links        []string `json:"links,omitempty"`
}

// ResourceStatus is what happened to a resource.
type ResourceStatus struct {
	// State, Steps and Error are the last update's; the object's Updated is when it changed.
	State string `json:"state"`
	Steps []Step `json:"steps,omitempty"`
	Error string `json:"error,omitempty"`
	// From discovery and forwards (Kubernetes resources only).
	PodsReady int      `json:"podsReady"`
	Pods      int      `json:"pods"`
	Restarts  int      `json:"restarts"`
	Forwards  []string `json:"forwards,omitempty"` // URLs
	// Reason is why a pod is not ready (a waiting container's reason), if one is not.
	Reason string `json:"reason,omitempty"`
}

// Step is one timed step of an update.
type Step struct {
	Name       string  `json:"name"`
	DurationMS float64 `json:"durationMs"`
	Note       string  `json:"note,omitempty"`
}

// ApplySpec is the YAML kiln applies for one resource.
type ApplySpec struct {
	YAML string `json:"yaml"`
}

// ApplyStatus is the server's answer.
type ApplyStatus struct {
	ResultYAML string    `json:"resultYaml,omitempty"`
	Objects    []string  `json:"objects,omitempty"`
	LastApply  time.Time `json:"lastApply,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// ImageSpec is what the plan says of an image.
type ImageSpec struct {
	Ref        string `json:"ref"`
	Context    string `json:"context,omitempty"`
	Dockerfile string `json:"dockerfile,omitempty"`
	Custom     bool   `json:"custom,omitempty"`
	LiveUpdate bool   `json:"liveUpdate,omitempty"`
}

// ImageStatus is the last build of an image.
type ImageStatus struct {
	Tag        string    `json:"tag,omitempty"`
	State      string    `json:"state"`         // "built", "up to date", "building", "failed"
	Why        string    `json:"why,omitempty"` // why it was built or skipped
	DurationMS float64   `json:"durationMs,omitempty"`
	Finished   time.Time `json:"finished,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// LiveUpdateStatus is the last live update of an image.
type LiveUpdateStatus struct {
	Files      []string           `json:"files,omitempty"`
	Deleted    []string           `json:"deleted,omitempty"`
	Containers []string           `json:"containers,omitempty"` // namespace/pod/container
	Result     string             `json:"result"`               // "synced", "failed, rebuilding"
	Error      string             `json:"error,omitempty"`
	PhasesMS   map[string]float64 `json:"phasesMs,omitempty"`
	At         time.Time          `json:"at"`
}

// LocalStatus is the state of a local resource.
type LocalStatus struct {
	LastRun    time.Time `json:"lastRun,omitempty"`
	ExitCode   *int      `json:"exitCode,omitempty"`
	Serve      string    `json:"serve,omitempty"` // "running", "stopped", "" (no serve_cmd)
	Error      string    `json:"error,omitempty"`
	DurationMS float64   `json:"durationMs,omitempty"`
}

// FileWatchStatus is the last batch of changed files and what it triggered.
type FileWatchStatus struct {
	Changed   []string  `json:"changed,omitempty"`
	Triggered string    `json:"triggered,omitempty"`
	At        time.Time `json:"at,omitempty"`
}

// DiscoveryStatus lists the pods of a resource, newest first.
type DiscoveryStatus struct {
	Pods []Pod `json:"pods"`
}

// Pod is one discovered pod.
type Pod struct {
	Namespace  string      `json:"namespace"`
	Name       string      `json:"name"`
	Phase      string      `json:"phase"`
	Ready      bool        `json:"ready"`
	Created    time.Time   `json:"created"`
	Deleting   bool        `json:"deleting,omitempty"`
	Containers []Container `json:"containers"`
}

// Container is one container of a discovered pod.
type Container struct {
	Name     string `json:"name"`
	Image    string `json:"image"`
	Init     bool   `json:"init,omitempty"`
	Ready    bool   `json:"ready"`
	Restarts int32  `json:"restarts"`
	State    string `json:"state"`
	Reason   string `json:"reason,omitempty"`
}

// ForwardSpec is one port forward of a resource.
type ForwardSpec struct {
	Resource      string `json:"resource"`
	LocalPort     int    `json:"localPort"`
	ContainerPort int    `json:"containerPort"`
	Host          string `json:"host,omitempty"`
}

// ForwardStatus is where a forward goes now.
type ForwardStatus struct {
	URL   string    `json:"url"`
	State string    `json:"state"`
	Pod   string    `json:"pod,omitempty"`
	Error string    `json:"error,omitempty"`
	Since time.Time `json:"since,omitempty"`
}

// LogStreamStatus is one container's log stream.
type LogStreamStatus struct {
	Resource  string    `json:"resource"`
	Pod       string    `json:"pod"`
	Container string    `json:"container"`
	State     string    `json:"state"` // "streaming", "reconnecting", "ended"
	Lines     uint64    `json:"lines"`
	LastLine  time.Time `json:"lastLine,omitempty"`
}
