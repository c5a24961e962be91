// Package plan holds the value that evaluating a Kilnfile produces: images to build, Kubernetes
// resources to apply, local resources to run, the cluster, and the files to watch.
//
// A Plan is data. It is built by evaluation only, serialises to JSON (`kiln render -o json`), and
// the runtime never mutates it. Paths inside a plan are relative to the project directory and
// use '/' separators, so a plan is byte-identical across machines.
package plan

import "time"

// Plan is the fully resolved project.
type Plan struct {
	// Main is the project file that was evaluated, relative to Dir (e.g. "Kilnfile").
	Main string `json:"main"`
	// Dir is the absolute project directory. It is not serialised: plans are machine-independent.
	Dir string `json:"-"`

	Cluster        *Cluster        `json:"cluster,omitempty"`
	Images         []Image         `json:"images"`
	Resources      []Resource      `json:"resources"`
	LocalResources []LocalResource `json:"localResources"`
	// ComposeServices are docker_compose() services, run through the Docker engine API.
	ComposeServices []ComposeService `json:"composeServices,omitempty"`
	Settings        Settings         `json:"settings"`
	// WatchedFiles are every file the evaluation read, sorted, relative to Dir.
	WatchedFiles []string `json:"watchedFiles"`
	// Buttons are Tilt's v1alpha1.ui_button objects with the v1alpha1.cmd each starts: what
	// the live views show and run when pressed.
	Buttons []Button `json:"buttons,omitempty"`
	// Warnings are non-fatal problems (e.g. an image no manifest uses).
	Warnings []string `json:"warnings"`
}

// Button is a ui_button: a command a user can start from a live view, for a resource
// (Location "resource", Resource set) or for the whole project (Location "global").
type Button struct {
	Name                 string        `json:"name"`
	Text                 string        `json:"text,omitempty"`
	IconName             string        `json:"iconName,omitempty"`
	Location             string        `json:"location"`
	Resource             string        `json:"resource,omitempty"`
	Disabled             bool          `json:"disabled,omitempty"`
	RequiresConfirmation bool          `json:"requiresConfirmation,omitempty"`
	Inputs               []ButtonInput `json:"inputs,omitempty"`
	// Command is the v1alpha1.cmd whose start_on names this button; nil if none does.
	Command *Command `json:"command,omitempty"`
	Pos     string   `json:"pos"`
}

// ButtonInput is one input of a button; its value reaches the command as the environment
// variable Name, as in Tilt.
type ButtonInput struct {
	Name  string `json:"name"`
	Label string `json:"label,omitempty"`
	// Type is "text", "bool", "hidden" or "choice".
	Type        string   `json:"type"`
	Default     string   `json:"default,omitempty"`
	Placeholder string   `json:"placeholder,omitempty"`
	Choices     []string `json:"choices,omitempty"`
}

// Cluster is the local kind cluster the project declares with kind_cluster().
type Cluster struct {
	Name string `json:"name"`
	// Config is the kind cluster config (kind.x-k8s.io/v1alpha4), already decoded.
	Config map[string]any `json:"config,omitempty"`
	// ConfigFile is the config's path when it came from a file.
	ConfigFile string `json:"configFile,omitempty"`
	// Context is the kubeconfig context kind gives this cluster ("kind-<name>").
	Context string `json:"context"`
}

// Image is one image target: docker_build, custom_build or a convention image.
type Image struct {
	// Ref is the image's identity: the ref as the user wrote it, with its tag if it had one
	// ("example/web", "example/web:latest"), so that two tags of one repository are two images.
	Ref string `json:"ref"`
	// MatchTag is set when the user's ref carried a tag: only that exact tag is replaced.
	MatchTag string `json:"matchTag,omitempty"`
	// Tag is the content hash of every build input, computed before any build.
	Tag string `json:"tag"`
	// Repo is where the image is pushed or loaded (Ref, or rewritten by default_registry).
	Repo string `json:"repo"`
	// Source says which builtin declared it: "docker_build", "custom_build" or "convention".
	Source string `json:"source"`
	Pos    string `json:"pos"`

	Context            string            `json:"context"`
	Dockerfile         string            `json:"dockerfile,omitempty"`
	DockerfileContents string            `json:"dockerfileContents,omitempty"`
	BuildArgs          map[string]string `json:"buildArgs,omitempty"`
	Target             string            `json:"target,omitempty"`
	// Excludes is the final context filter (dockerignore syntax): the build sends and the
	// hash covers exactly the files it leaves in.
	Excludes       []string `json:"excludes,omitempty"`
	Entrypoint     []string `json:"entrypoint,omitempty"`
	ExtraTags      []string `json:"extraTags,omitempty"`
	MatchInEnvVars bool     `json:"matchInEnvVars,omitempty"`
	Network        string   `json:"network,omitempty"`
	Platform       string   `json:"platform,omitempty"`
	Secrets        []string `json:"secrets,omitempty"`
	SSH            []string `json:"ssh,omitempty"`
	// ImageDeps are the refs of other images of this plan that this one builds FROM.
	ImageDeps []string `json:"imageDeps,omitempty"`

	Custom     *CustomBuild `json:"custom,omitempty"`
	LiveUpdate *LiveUpdate  `json:"liveUpdate,omitempty"`
	Inputs     Inputs       `json:"inputs"`
	// Pending, when set, says the image's inputs did not exist at evaluation (a local
	// resource makes them): Tag is PendingTag until the engine hashes them, before the build.
	Pending *Pending `json:"pending,omitempty"`
}

// PendingTag is the tag of an image whose inputs are not there yet (Image.Pending).
const PendingTag = "kiln-pending"

// Pending is why an image's tag waits, and what hashing it later needs.
type Pending struct {
	Reason string `json:"reason"`
	// Ignore and Only are the docker_build filters, for the excludes computed then.
	Ignore []string `json:"ignore,omitempty"`
	Only   []string `json:"only,omitempty"`
}

// FullRef is the reference the cluster runs: repo:tag.
func (i *Image) FullRef() string { return i.Repo + ":" + i.Tag }

// Inputs summarises what the tag hashes, so two plans can be compared.
type Inputs struct {
	ContextDigest    string `json:"contextDigest"`
	ContextFiles     int    `json:"contextFiles"`
	DockerfileDigest string `json:"dockerfileDigest,omitempty"`
	// Deps are the tags of the images this one builds FROM.
	Deps []string `json:"deps,omitempty"`
	// HashedAt is when the context was hashed. A build checks afterwards that no input was
	// modified since (contexthash.Verify), so that the tag names the bytes it read. Not part
	// of the plan's JSON: two evaluations of one tree give the same plan.
	HashedAt time.Time `json:"-"`
}

// CustomBuild is a custom_build: a user command that builds the image.
type CustomBuild struct {
	Command Command  `json:"command"`
	Deps    []string `json:"deps"`
	// Ignore are the patterns applied to directory deps, as the tag's hash applied them.
	Ignore       []string `json:"ignore,omitempty"`
	Tag          string   `json:"tag,omitempty"`
	DisablePush  bool     `json:"disablePush,omitempty"`
	SkipsLocal   bool     `json:"skipsLocalDocker,omitempty"`
	OutputsImage string   `json:"outputsImageRefTo,omitempty"`
}

// Command is an argv. A Starlark string command becomes ["sh", "-c", cmd].
type Command struct {
	Argv []string          `json:"argv,omitempty"`
	Dir  string            `json:"dir,omitempty"`
	Env  map[string]string `json:"env,omitempty"`
}

// Empty reports whether there is no command.
func (c Command) Empty() bool { return len(c.Argv) == 0 }

// LiveUpdate is an image's live-update rules, in Tilt's order.
type LiveUpdate struct {
	Steps []LiveUpdateStep `json:"steps"`
}

// LiveUpdateStep kinds.
const (
	StepInitialSync      = "initial_sync"
	StepFallBackOn       = "fall_back_on"
	StepSync             = "sync"
	StepRun              = "run"
	StepRestartContainer = "restart_container"
)

// LiveUpdateStep is one step of a live update.
type LiveUpdateStep struct {
	Kind string `json:"kind"`
	// Paths are the files of fall_back_on, relative to the project dir.
	Paths []string `json:"paths,omitempty"`
	// Local and Remote are a sync's source (project-relative) and its absolute container path.
	Local  string `json:"local,omitempty"`
	Remote string `json:"remote,omitempty"`
	// Command and Triggers are a run step's; Triggers are project-relative paths. A
	// restart_container step may have Triggers too (docker_build_with_restart(trigger=)):
	// then only a change to one of them restarts.
	Command  *Command `json:"command,omitempty"`
	Triggers []string `json:"triggers,omitempty"`
	EchoOff  bool     `json:"echoOff,omitempty"`
	// ExitPolicy is a restart step's: "continue" keeps the container up when its program
	// exits by itself, waiting for the next restart; "" ends the container with it.
	ExitPolicy string `json:"exitPolicy,omitempty"`
}

// The values of TriggerMode: Tilt's TRIGGER_MODE_AUTO and TRIGGER_MODE_MANUAL. A manual
// resource is updated only when kiln trigger asks (and at start, if auto_init).
const (
	TriggerAuto   = "auto"
	TriggerManual = "manual"
)

// Resource is one Kubernetes resource: a workload and the objects attached to it.
type Resource struct {
	Name string `json:"name"`
	// Workload is the object that named the resource ("" for uncategorized and object-only).
	Workload string   `json:"workload,omitempty"`
	Objects  []Object `json:"objects"`
	// Images are the refs of plan images injected into this resource's objects.
	Images            []string            `json:"images,omitempty"`
	ResourceDeps      []string            `json:"resourceDeps,omitempty"`
	PortForwards      []PortForward       `json:"portForwards,omitempty"`
	Links             []Link              `json:"links,omitempty"`
	Labels            []string            `json:"labels,omitempty"`
	TriggerMode       string              `json:"triggerMode"`
	AutoInit          bool                `json:"autoInit"`
	PodReadiness      string              `json:"podReadiness,omitempty"`
	ExtraPodSelectors []map[string]string `json:"extraPodSelectors,omitempty"`
	DiscoveryStrategy string              `json:"discoveryStrategy,omitempty"`
	CustomDeploy      *CustomDeploy       `json:"customDeploy,omitempty"`
}

// Object is one Kubernetes object, decoded from YAML into JSON-compatible values.
type Object map[string]any

// CustomDeploy is a k8s_custom_deploy resource: user commands that apply and delete.
type CustomDeploy struct {
	ApplyCmd  Command  `json:"applyCmd"`
	DeleteCmd Command  `json:"deleteCmd"`
	Deps      []string `json:"deps"`
	ImageDeps []string `json:"imageDeps,omitempty"`
	// ImageSelector and LiveUpdate let files sync into the containers the commands deployed:
	// those running an image of that repository (any tag), or, with ContainerSelector, the
	// containers of that name, as in Tilt.
	ImageSelector     string      `json:"imageSelector,omitempty"`
	ContainerSelector string      `json:"containerSelector,omitempty"`
	LiveUpdate        *LiveUpdate `json:"liveUpdate,omitempty"`
}

// PortForward forwards a local port to a container port of the resource's newest pod.
type PortForward struct {
	LocalPort     int    `json:"localPort"`
	ContainerPort int    `json:"containerPort"`
	Host          string `json:"host,omitempty"`
	Name          string `json:"name,omitempty"`
	LinkPath      string `json:"linkPath,omitempty"`
}

// Link is a URL shown with a resource.
type Link struct {
	URL  string `json:"url"`
	Name string `json:"name,omitempty"`
}

// LocalResource is a local_resource: a command on the developer's machine.
type LocalResource struct {
	Name           string          `json:"name"`
	Pos            string          `json:"pos"`
	Cmd            *Command        `json:"cmd,omitempty"`
	ServeCmd       *Command        `json:"serveCmd,omitempty"`
	Deps           []string        `json:"deps,omitempty"`
	Ignore         []string        `json:"ignore,omitempty"`
	ResourceDeps   []string        `json:"resourceDeps,omitempty"`
	TriggerMode    string          `json:"triggerMode"`
	AutoInit       bool            `json:"autoInit"`
	AllowParallel  bool            `json:"allowParallel,omitempty"`
	ReadinessProbe *ReadinessProbe `json:"readinessProbe,omitempty"`
	Labels         []string        `json:"labels,omitempty"`
	Links          []Link          `json:"links,omitempty"`
}

// ReadinessProbe mirrors Tilt's probe(): exactly one of Exec, HTTPGet, TCPSocket.
type ReadinessProbe struct {
	InitialDelaySeconds int        `json:"initialDelaySeconds,omitempty"`
	TimeoutSeconds      int        `json:"timeoutSeconds,omitempty"`
	PeriodSeconds       int        `json:"periodSeconds,omitempty"`
	SuccessThreshold    int        `json:"successThreshold,omitempty"`
	FailureThreshold    int        `json:"failureThreshold,omitempty"`
	Exec                []string   `json:"exec,omitempty"`
	HTTPGet             *HTTPGet   `json:"httpGet,omitempty"`
	TCPSocket           *TCPSocket `json:"tcpSocket,omitempty"`
}

// HTTPGet probes a URL.
type HTTPGet struct {
	Host   string `json:"host,omitempty"`
	Port   int    `json:"port"`
	Path   string `json:"path,omitempty"`
	Scheme string `json:"scheme,omitempty"`
}

// TCPSocket probes a TCP port.
type TCPSocket struct {
	Host string `json:"host,omitempty"`
	Port int    `json:"port"`
}

// Settings are the project-wide settings from update_settings, ci_settings and friends.
type Settings struct {
	AllowK8sContexts            []string `json:"allowK8sContexts,omitempty"`
	K8sContext                  string   `json:"k8sContext,omitempty"`
	K8sNamespace                string   `json:"k8sNamespace,omitempty"`
	DefaultRegistry             string   `json:"defaultRegistry,omitempty"`
	MaxParallelUpdates          int      `json:"maxParallelUpdates"`
	K8sUpsertTimeout            int      `json:"k8sUpsertTimeoutSeconds"`
	SuppressUnusedImageWarnings []string `json:"suppressUnusedImageWarnings,omitempty"`
	CITimeout                   int      `json:"ciTimeoutSeconds"`
	ReadinessTimeout            int      `json:"readinessTimeoutSeconds"`
	WatchIgnore                 []string `json:"watchIgnore,omitempty"`
	ScrubSecrets                bool     `json:"scrubSecrets"`
	TriggerMode                 string   `json:"triggerMode"`
	// EnabledResources is config.set_enabled_resources(); nil means all.
	EnabledResources []string `json:"enabledResources,omitempty"`
}

// ComposeService is one service of a docker_compose() project: a container kiln runs
// through the Docker engine API (no docker compose binary), as a resource of its own.
type ComposeService struct {
	Name string `json:"name"`
	// Project is the compose project name: containers are PROJECT-NAME-1 on the network
	// PROJECT_default, as docker compose names them.
	Project string `json:"project"`
	Pos     string `json:"pos"`
	// Image is the image the container runs. ImageRef, when set, is the plan image kiln
	// builds for it (a docker_build of the same ref, or the service's build: section); its
	// built repo:tag replaces Image at run time.
	Image      string            `json:"image"`
	ImageRef   string            `json:"imageRef,omitempty"`
	Command    []string          `json:"command,omitempty"`
	Entrypoint []string          `json:"entrypoint,omitempty"`
	Env        map[string]string `json:"env,omitempty"`
	Ports      []ComposePort     `json:"ports,omitempty"`
	Volumes    []ComposeVolume   `json:"volumes,omitempty"`
	WorkingDir string            `json:"workingDir,omitempty"`
	User       string            `json:"user,omitempty"`
	// Healthcheck, when set, must pass before the service is ready.
	Healthcheck *ComposeHealth `json:"healthcheck,omitempty"`
	// DependsOn are the compose depends_on services; they also order updates.
	DependsOn    []string `json:"dependsOn,omitempty"`
	ResourceDeps []string `json:"resourceDeps,omitempty"`
	Links        []Link   `json:"links,omitempty"`
	Labels       []string `json:"labels,omitempty"`
	TriggerMode  string   `json:"triggerMode"`
	AutoInit     bool     `json:"autoInit"`
}

// ComposePort publishes a container port on the host.
type ComposePort struct {
	HostIP    string `json:"hostIP,omitempty"`
	Host      string `json:"host,omitempty"` // "" lets Docker choose
	Container uint32 `json:"container"`
	Protocol  string `json:"protocol,omitempty"`
}

// ComposeVolume is a bind mount (Source a path, project-relative when inside the project) or
// a named volume (Source its name, created as PROJECT_NAME).
type ComposeVolume struct {
	Type     string `json:"type"` // "bind" or "volume"
	Source   string `json:"source,omitempty"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// ComposeHealth is a compose healthcheck, in Docker's terms.
type ComposeHealth struct {
	Test          []string `json:"test"`
	IntervalMS    int64    `json:"intervalMs,omitempty"`
	TimeoutMS     int64    `json:"timeoutMs,omitempty"`
	StartPeriodMS int64    `json:"startPeriodMs,omitempty"`
	Retries       int      `json:"retries,omitempty"`
}
