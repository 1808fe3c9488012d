// The reference for tests/tests/it/gateway_reference.rs: what grpc-gateway v2 makes of a
// request's query and JSON body, decoded with its own code (runtime.PopulateQueryParameters
// after url.ParseQuery, as its generated handlers call them; protojson with DiscardUnknown, its
// default marshaler's reading) on dynamic messages of a descriptor set.
//
//	grpc-gateway DESCRIPTOR_SET MESSAGE [PATH_BOUND_FIELD...]
//
// reads one case per line from stdin, `query<TAB>raw query` or `body<TAB>base64 JSON`, and
// answers each on its own line: `ok<TAB>the message as proto3 JSON` (`null` when protojson
// cannot write it) or `err<TAB>the error`. Built by .ci/run:
//
//	go build -o DIR/grpc-gateway ./tests/reference/grpc-gateway
package main

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

func main() {
	raw, err := os.ReadFile(os.Args[1])
	check(err)
	var set descriptorpb.FileDescriptorSet
	check(proto.Unmarshal(raw, &set))
	files, err := protodesc.NewFiles(&set)
	check(err)
	// grpc-gateway looks enums up in the global registry, where generated Go code would have
	// put them.
	files.RangeFiles(func(file protoreflect.FileDescriptor) bool {
		if _, err := protoregistry.GlobalFiles.FindFileByPath(file.Path()); err != nil {
			registerEnums(file.Enums(), file.Messages())
		}
		return true
	})
	desc, err := files.FindDescriptorByName(protoreflect.FullName(os.Args[2]))
	check(err)
	md := desc.(protoreflect.MessageDescriptor)
	// Path-bound fields, left out of the query as grpc-gateway's generated filter does.
	var bound [][]string
	for _, path := range os.Args[3:] {
		bound = append(bound, strings.Split(path, "."))
	}
	filter := utilities.NewDoubleArray(bound)
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() {
		kind, arg, _ := strings.Cut(in.Text(), "\t")
		msg := dynamicpb.NewMessage(md)
		var err error
		switch kind {
		case "query":
			// What http.Request.ParseForm does with a GET's query.
			var values url.Values
			values, err = url.ParseQuery(arg)
			if err == nil {
				err = runtime.PopulateQueryParameters(msg, values, filter)
			}
		case "body":
			var body []byte
			body, err = base64.StdEncoding.DecodeString(arg)
			check(err)
			err = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(body, msg)
		default:
			panic("unknown command " + kind)
		}
		if err != nil {
			fmt.Fprintf(out, "err\t%s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		} else {
			// A message that JSON cannot hold (a field mask path that is not a
			// field name) was still decoded: said so, without the message.
			if text, err := protojson.Marshal(msg); err != nil {
				fmt.Fprintf(out, "ok\tnull\n")
			} else {
				fmt.Fprintf(out, "ok\t%s\n", text)
			}
		}
		out.Flush()
	}
	check(in.Err())
}

func registerEnums(enums protoreflect.EnumDescriptors, messages protoreflect.MessageDescriptors) {
	for i := 0; i < enums.Len(); i++ {
		check(protoregistry.GlobalTypes.RegisterEnum(dynamicpb.NewEnumType(enums.Get(i))))
	}
	for i := 0; i < messages.Len(); i++ {
		registerEnums(messages.Get(i).Enums(), messages.Get(i).Messages())
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
