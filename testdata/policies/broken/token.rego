# Does not compile: the decision's object is never closed.
package tollgate.token

decision := {
	"allow": true,
